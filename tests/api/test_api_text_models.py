"""Text models over the API: listing, detail, train log (JSON + SSE), generate, promote/reject,
and training as a job — over an artifact root with a tiny model trained by the real code."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apitools import sse_events, wait_job

from ttt.store import ArtifactStore

MODEL = "lm-tiny"
CORPUS_TEXT = "\n\n".join(
    f"Document {i}. The quick brown fox jumps over the lazy dog number {i}. "
    "Recurrent models carry a state from token to token; the state is the memory. " * 6
    for i in range(12)
)


def _write_corpus(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(CORPUS_TEXT.split("\n\n")):
        (folder / f"doc{i:02d}.txt").write_text(part + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def text_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root with one completed tiny model (trained here) and a corpus folder inside it."""
    import torch

    from ttt.models.corpus import Corpus
    from ttt.models.train import train_model

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("text") / "artifacts"
    _write_corpus(root / "corpora" / "notes")
    corpus = Corpus.from_paths([root / "corpora" / "notes"])
    train_model(ArtifactStore(root), corpus=corpus, preset="tiny", model_id=MODEL, promote=False)
    return root


@pytest.fixture()
def tc(text_root: Path, tmp_path: Path, make_client: Callable[..., Any]) -> Iterator[Any]:
    """A client over a private copy of the root (tests here write to it)."""
    root = tmp_path / "artifacts"
    shutil.copytree(text_root, root)
    yield make_client(root)


def test_list_and_detail(tc: Any) -> None:
    body = tc.get("/api/text_models").json()
    assert body["total"] == 1 and body["default_model_id"] is None  # not promoted
    m = body["items"][0]
    assert m["model_id"] == MODEL and m["status"] == "completed" and not m["promoted"]
    assert m["preset"] == "tiny" and m["step"] == m["steps"] == 30
    assert m["val_loss"] > 0 and m["train_loss"] > 0 and m["tokens_per_s"] > 0
    assert m["d_model"] == 32 and m["corpus_source"] == "files"
    d = tc.get(f"/api/text_models/{MODEL}").json()
    assert d["summary"] == m and d["meta"]["train_cfg"]["steps"] == 30


def test_train_log_and_after_step(tc: Any) -> None:
    log = tc.get(f"/api/text_models/{MODEL}/train_log").json()
    steps = [r["step"] for r in log["rows"]]
    assert steps == sorted(steps) and steps[-1] == 30 and log["status"] == "completed"
    assert any(r["val_loss"] is not None for r in log["rows"])
    later = tc.get(f"/api/text_models/{MODEL}/train_log", params={"after_step": 20}).json()
    assert [r["step"] for r in later["rows"]] == [s for s in steps if s > 20]


def test_stream_of_a_finished_model_sends_rows_then_status(tc: Any) -> None:
    with tc.stream("GET", f"/api/text_models/{MODEL}/stream") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    events = sse_events(text)
    assert events[0][0] == "status" and events[-1] == ("status", events[-1][1])
    assert events[-1][1]["status"] == "completed"
    rows = [row for name, d in events if name == "rows" for row in d["rows"]]
    assert rows[-1]["step"] == 30


def test_stream_of_a_model_that_never_appears(tc: Any) -> None:
    with tc.stream("GET", "/api/text_models/lm-nope/stream", params={"wait_s": 0}) as r:
        events = sse_events("".join(r.iter_text()))
    assert events == [("missing", {"model_id": "lm-nope"})]


def test_generate_is_seeded_and_bounded(tc: Any) -> None:
    body = {"prompt": "The quick", "max_tokens": 12, "temperature": 0.8, "top_k": 20, "seed": 3}
    a = tc.post(f"/api/text_models/{MODEL}/generate", json=body)
    assert a.status_code == 200, a.text
    b = tc.post(f"/api/text_models/{MODEL}/generate", json=body).json()
    assert a.json()["text"] == b["text"] and 0 < a.json()["n_tokens"] <= 12
    too_long = tc.post(f"/api/text_models/{MODEL}/generate", json={**body, "max_tokens": 513})
    assert too_long.status_code == 422
    extra = tc.post(f"/api/text_models/{MODEL}/generate", json={**body, "evil": 1})
    assert extra.status_code == 422


def test_promote_and_reject(tc: Any) -> None:
    p = tc.post(f"/api/text_models/{MODEL}/promote").json()
    assert p["promoted"] and p["is_default"]
    assert tc.get("/api/text_models").json()["default_model_id"] == MODEL
    r = tc.post(f"/api/text_models/{MODEL}/reject").json()
    assert not r["promoted"] and r["rejected"] and not r["is_default"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/text_models/..etc"),
        ("get", "/api/text_models/%2E%2E"),
        ("get", "/api/text_models/bad%20id/train_log"),
        ("get", "/api/text_models/.hidden/stream"),
        ("post", "/api/text_models/bad%20id/generate"),
        ("post", "/api/text_models/bad%20id/promote"),
        ("post", "/api/text_models/bad%20id/reject"),
    ],
)
def test_bad_ids_are_400(tc: Any, method: str, path: str) -> None:
    kw = {"json": {"prompt": "x"}} if path.endswith("generate") else {}
    r = getattr(tc, method)(path, **kw)
    assert r.status_code == 400, (path, r.status_code, r.text)
    assert "detail" in r.json()


def test_unknown_model_is_404(tc: Any) -> None:
    assert tc.get("/api/text_models/lm-nope").status_code == 404
    assert tc.get("/api/text_models/lm-nope/train_log").status_code == 404
    assert tc.post("/api/text_models/lm-nope/generate", json={}).status_code == 404
    assert tc.post("/api/text_models/lm-nope/promote").status_code == 404


@pytest.mark.parametrize(
    "corpus",
    [
        ["/etc/passwd"],
        ["../../../etc"],
        ["corpora/../../outside"],
        ["/"],
    ],
)
def test_train_refuses_corpus_outside_the_root(tc: Any, corpus: list[str]) -> None:
    r = tc.post("/api/text_models/train", json={"corpus": corpus, "preset": "tiny"})
    assert r.status_code == 403, r.text
    assert "outside" in r.json()["detail"]
    assert tc.get("/api/jobs").json()["total"] == 0


def test_train_refuses_a_symlink_out_of_a_corpus_folder(tc: Any, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for you\n", encoding="utf-8")
    (tmp_path / "artifacts" / "corpora" / "notes" / "link.txt").symlink_to(secret)
    r = tc.post("/api/text_models/train", json={"corpus": ["corpora/notes"]})
    assert r.status_code == 403 and "links outside" in r.json()["detail"]


def test_train_validates_the_body(tc: Any) -> None:
    bad = [
        {"preset": "huge"},
        {"steps": 0},
        {"lr": -1},
        {"threads": 0},
        {"corpus": ["x"] * 33},
        {"whatever": 1},
        {"model_id": "../up"},
    ]
    for body in bad:
        r = tc.post("/api/text_models/train", json=body)
        assert r.status_code in (400, 422), (body, r.status_code)
    assert tc.post("/api/text_models/train", json={"corpus": ["nope"]}).status_code == 404
    assert tc.post("/api/text_models/train", json={"model_id": MODEL}).status_code == 409


def test_train_job_end_to_end(tc: Any) -> None:
    r = tc.post(
        "/api/text_models/train",
        json={"corpus": ["corpora/notes"], "preset": "tiny", "steps": 12, "lr": 0.01, "seed": 1},
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "train_lm" and job["params"]["threads"] == 1
    mid = job["params"]["model_id"]
    with tc.stream("GET", f"/api/text_models/{mid}/stream", params={"wait_s": 60}) as s:
        events = sse_events("".join(s.iter_text()))
    assert events[-1][0] == "status" and events[-1][1]["status"] == "completed"
    assert [row for n, d in events if n == "rows" for row in d["rows"]][-1]["step"] == 12
    done = wait_job(tc, job["job_id"])
    assert done["status"] == "completed" and done["result"]["model_id"] == mid
    m = tc.get(f"/api/text_models/{mid}").json()["summary"]
    assert m["status"] == "completed" and m["steps"] == 12 and m["lr"] == 0.01
    assert not m["promoted"]
    out = tc.post(f"/api/text_models/{mid}/generate", json={"max_tokens": 5}).json()
    assert out["model_id"] == mid


def test_cancelled_training_leaves_a_cancelled_model(tc: Any) -> None:
    r = tc.post("/api/text_models/train", json={"corpus": ["corpora/notes"], "steps": 100_000})
    job, mid = r.json(), r.json()["params"]["model_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if tc.get(f"/api/jobs/{job['job_id']}").json()["progress"]["done"] >= 2:
            break
        time.sleep(0.05)
    tc.post(f"/api/jobs/{job['job_id']}/cancel")
    assert wait_job(tc, job["job_id"])["status"] == "cancelled"
    m = tc.get(f"/api/text_models/{mid}").json()
    assert m["summary"]["status"] == "cancelled" and m["summary"]["step"] >= 2
    r = tc.post(f"/api/text_models/{mid}/generate", json={})
    assert r.status_code == 409 and "no final weights" in r.json()["detail"]
    assert tc.post(f"/api/text_models/{mid}/promote").status_code == 409
