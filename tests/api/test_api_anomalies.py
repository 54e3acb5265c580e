"""/api/anomalies: the queue before and after a scan, review decisions, flags as seeds."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from apitools import client_over


def test_scan_queue_review_and_flag(review_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    shutil.copytree(review_root, root)
    for c in client_over(root):
        empty = c.get("/api/anomalies").json()
        assert empty == {"scan": None, "items": [], "total": 0, "states": {}}
        r = c.post("/api/anomalies/scan", json={"top": 300})
        assert r.status_code == 200, r.text
        q: dict[str, Any] = r.json()
        assert q["scan"]["records"] >= len(q["items"]) > 10
        assert set(q["scan"]["families"]) >= {"nano:tiny-base:linear", "sentry:tiny-lm:ar:32"}
        scores = [f["score"] for f in q["items"]]
        assert scores == sorted(scores, reverse=True) and q["items"][0]["rank"] == 1
        assert all(f["review"]["state"] == "open" for f in q["items"])
        nano = c.get("/api/anomalies", params={"kind": "nano"}).json()["items"]
        assert nano and all(f["kind"] == "nano" and f["link"].startswith("/nano/") for f in nano)
        kept = next(f for f in q["items"] if f["item"] == "sentry-kept")
        r = c.post(
            f"/api/anomalies/{kept['id']}/review", json={"state": "flagged", "note": "flood"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["review"]["state"] == "flagged"
        flagged = c.get("/api/flagged_prompts").json()["items"]
        assert any(p["id"] == f"anomaly-{kept['id']}" for p in flagged)
        after = c.get("/api/anomalies", params={"state": "flagged"}).json()
        assert [f["id"] for f in after["items"]] == [kept["id"]] and after["states"]["flagged"] == 1
        bad = c.post(f"/api/anomalies/{nano[0]['id']}/review", json={"state": "flagged"})
        assert bad.status_code == 409 and "no text" in bad.json()["detail"]
        assert c.post(f"/api/anomalies/{kept['id']}/review", json={"state": "x"}).status_code == 422
        assert (
            c.post("/api/anomalies/0123456789abcdef/review", json={"state": "reviewed"}).status_code
            == 404
        )
        assert c.post("/api/anomalies/..%2f/review", json={"state": "reviewed"}).status_code in (
            400,
            404,
        )
        assert c.get("/api/anomalies", params={"state": "bogus"}).status_code == 422
        assert (
            c.post("/api/anomalies/scan", json={"kinds": ["nano"], "method": "x"}).status_code
            == 422
        )
