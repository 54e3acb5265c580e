"""What the dashboard's run views rely on: predictions line up with the state they predict
(next_obs) so their error equals per_step.csv at the same t; event and per-step windows say
how many rows they hold; a run names what its frozen predictor holds."""

from __future__ import annotations

import csv

import pytest

from conftest import SESSION_A

RUN_A = "run-a1"


def test_predictions_are_for_the_next_state_and_match_per_step(client, api_root) -> None:
    url = f"/api/sessions/{SESSION_A}/runs/{RUN_A}/trajectory"
    tr = client.get(url, params={"points": 100000}).json()
    assert len(tr["next_obs"]) == len(tr["t"]) == 320
    assert tr["next_obs"][:-1] == tr["obs"][1:] and tr["next_obs"][-1] is None
    path = api_root / "sessions" / SESSION_A / "runs" / RUN_A / "per_step.csv"
    with open(path, newline="") as fh:
        rows = {int(r["t"]): r for r in csv.DictReader(fh)}
    for i in (0, 37, 150, 318):
        t = tr["t"][i]
        for key, col in (("pred_adaptive", "adaptive_mse"), ("pred_baseline", "baseline_mse")):
            p, y = tr[key][i], tr["next_obs"][i]
            mse = sum((a - b) ** 2 for a, b in zip(p, y, strict=True)) / 4
            assert mse == pytest.approx(float(rows[t][col]), rel=1e-4, abs=1e-9), (t, key)
    # against the state at t itself (the old pairing) the error is something else entirely
    p, y = tr["pred_adaptive"][150], tr["obs"][150]
    wrong = sum((a - b) ** 2 for a, b in zip(p, y, strict=True)) / 4
    assert wrong != pytest.approx(float(rows[tr["t"][150]]["adaptive_mse"]), rel=0.1)
    strided = client.get(url, params={"start": 100, "end": 200, "points": 10}).json()
    assert strided["next_obs"][0] == tr["obs"][101]


def test_event_window_and_per_step_rows(client) -> None:
    base = f"/api/sessions/{SESSION_A}/runs/{RUN_A}"
    every = client.get(f"{base}/events", params={"limit": 5000}).json()
    win = client.get(f"{base}/events", params={"start": 100, "end": 200, "limit": 5000}).json()
    want = [e["t"] for e in every["items"] if 100 <= e["t"] < 200]
    assert [e["t"] for e in win["items"]] == want and win["total"] == len(want) > 0
    assert win["counts"] == every["counts"]  # counts stay whole-run
    rolled = client.get(
        f"{base}/events", params={"start": 100, "status": "commit", "sort": "-grad_norm"}
    ).json()
    assert all(e["t"] >= 100 and e["status"] == "commit" for e in rolled["items"])
    ps = client.get(f"{base}/per_step", params={"start": 50, "end": 130}).json()
    assert ps["rows"] == 80 and ps["total"] == 320
    assert client.get(f"{base}/per_step").json()["rows"] == 320


def test_run_says_what_frozen_holds(client) -> None:
    runs = client.get(f"/api/sessions/{SESSION_A}").json()["runs"]
    assert runs[0]["frozen_weights"] == "session_start"
