"""Every read endpoint over an artifact root written by the real domain code."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest

from ttt.api.models.runs import PerStepWindow, Trajectory
from ttt.api.models.weights import WeightStats

# Made by the api_root fixture (conftest.py).
SESSION_A, SESSION_B, FORK, RUN_A = "sess-a", "sess-b", "sess-a-fork", "run-a1"


def test_health(client, api_root: Path) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["artifacts_root"] == str(api_root.resolve())


def test_bases(client) -> None:
    body = client.get("/api/bases").json()
    assert body["total"] == 1
    (b,) = body["items"]
    assert b["base_id"] == "tiny-base"
    assert len(b["base_ckpt_hash"]) == 64 and b["model_cfg"]["n_state"] > 0
    one = client.get("/api/bases/tiny-base").json()
    assert one["pretrain_log"] and "loss" in one["pretrain_log"][0]
    assert client.get("/api/bases/nope").status_code == 404


def test_session_list_is_paginated_summaries(client) -> None:
    body = client.get("/api/sessions").json()
    assert body["total"] == 3 and body["errors"] == []
    ids = [s["session_id"] for s in body["items"]]
    assert set(ids) == {SESSION_A, SESSION_B, FORK}
    a = next(s for s in body["items"] if s["session_id"] == SESSION_A)
    assert a["steps_total"] == 320 and a["runs"] == 1 and a["last_run_id"] == RUN_A
    assert a["running"] is False and a["parent"] is None
    assert a["updates_attempted"] >= a["updates_committed"] > 0
    assert "meta" not in a and "plasticity_cfg" not in a  # summaries only
    fork = next(s for s in body["items"] if s["session_id"] == FORK)
    assert fork["parent"] == {
        "session_id": SESSION_A,
        "update_index": 2,
        "t": fork["parent"]["t"],
        "with_momentum": True,
    }
    page = client.get("/api/sessions?offset=1&limit=1&sort=mu").json()
    assert page["total"] == 3 and len(page["items"]) == 1
    by_mu = [s["session_id"] for s in client.get("/api/sessions?sort=-mu").json()["items"]]
    assert by_mu[0] == SESSION_B


def test_corrupt_session_is_listed_as_error(client, api_root: Path) -> None:
    bad = api_root / "sessions" / "broken-1"
    bad.mkdir()
    (bad / "meta.json").write_text("{not json")
    try:
        body = client.get("/api/sessions").json()
        assert body["total"] == 3
        assert [e["id"] for e in body["errors"]] == ["broken-1"]
        assert "meta.json" in body["errors"][0]["detail"]
        r = client.get("/api/sessions/broken-1")
        assert r.status_code == 500 and "meta.json" in r.json()["detail"]
    finally:
        (bad / "meta.json").unlink()
        bad.rmdir()


def test_session_detail(client, api_root: Path) -> None:
    body = client.get(f"/api/sessions/{SESSION_A}").json()
    assert body["meta"]["session_id"] == SESSION_A and body["meta"]["mu"] == 0.1
    assert body["metrics"]["steps_total"] == 320
    (run,) = body["runs"]
    assert run["run_id"] == RUN_A and run["status"] == "completed"
    assert (run["t_start"], run["t_end"], run["steps"]) == (0, 320, 320)
    assert body["resume_command"] == (
        f"ttt nano session run {SESSION_A} --steps 320 --artifacts-root {api_root.resolve()}"
    )


def test_per_step_full_and_exact(client, api_root: Path) -> None:
    url = f"/api/sessions/{SESSION_A}/runs/{RUN_A}/per_step"
    full = client.get(url, params={"points": 40}).json()
    PerStepWindow.model_validate(full)  # the fast JSON path keeps the documented shape
    assert full["total"] == 320 and full["bucket"] == 8 and len(full["t"]) == 40
    assert (full["start"], full["end"], full["t_first"], full["t_last"]) == (0, 320, 0, 319)
    exact = client.get(url, params={"start": 100, "end": 140}).json()
    assert exact["bucket"] == 1 and exact["t"] == list(range(100, 140))
    csv_path = api_root / "sessions" / SESSION_A / "runs" / RUN_A / "per_step.csv"
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))[100:140]
    assert exact["series"]["adaptive_mse"]["min"] == [float(r["adaptive_mse"]) for r in rows]
    assert exact["series"]["baseline_mse"]["max"] == [float(r["baseline_mse"]) for r in rows]
    want = [(int(r["t"]), r["status"]) for r in rows if r["did_update"] == "1"]
    assert [(u["t"], u["status"]) for u in exact["updates"]] == want
    assert all(len(exact["series"][k]["mean"]) == 40 for k in exact["series"])


def test_per_step_csv_download(client, api_root: Path) -> None:
    r = client.get(f"/api/sessions/{SESSION_A}/runs/{RUN_A}/per_step.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    path = api_root / "sessions" / SESSION_A / "runs" / RUN_A / "per_step.csv"
    assert r.content == path.read_bytes()
    assert "attachment" in r.headers["content-disposition"]


def test_events_filter_sort_paginate(client) -> None:
    url = f"/api/sessions/{SESSION_A}/runs/{RUN_A}/events"
    body = client.get(url, params={"limit": 1000}).json()
    total = body["total"]
    assert total == sum(body["counts"].values()) == len(body["items"]) == 20
    ts = [e["t"] for e in body["items"]]
    assert ts == sorted(ts)
    commits = client.get(url, params={"status": "commit", "limit": 1000}).json()
    assert commits["total"] == body["counts"]["commit"]
    assert {e["status"] for e in commits["items"]} == {"commit"}
    assert commits["counts"] == body["counts"]
    statuses = ",".join(body["counts"])
    assert client.get(url, params={"status": statuses}).json()["total"] == total
    page = client.get(url, params={"offset": 5, "limit": 3}).json()
    assert [e["t"] for e in page["items"]] == ts[5:8]
    by_norm = client.get(url, params={"sort": "-grad_norm", "limit": 1000}).json()["items"]
    norms = [e["grad_norm"] for e in by_norm if e["grad_norm"] is not None]
    assert norms == sorted(norms, reverse=True)
    assert client.get(url, params={"sort": "nope"}).status_code == 422
    ev = body["items"][0]
    assert ev["run_id"] == RUN_A and "checks" in ev and "pre_loss" in ev


def test_trajectory(client) -> None:
    url = f"/api/sessions/{SESSION_A}/runs/{RUN_A}/trajectory"
    full = client.get(url, params={"points": 100000}).json()
    Trajectory.model_validate(full)
    assert full["stride"] == 1 and full["total"] == 320 and len(full["t"]) == 320
    assert len(full["obs"][0]) == 4 and len(full["actions"][0]) == 2
    assert len(full["pred_baseline"]) == len(full["pred_adaptive"]) == 320
    assert full["mu"][0] == pytest.approx(0.1)
    part = client.get(url, params={"start": 100, "end": 200, "points": 10}).json()
    assert part["stride"] == 10 and part["t"] == list(range(100, 200, 10))
    assert part["obs"][0] == full["obs"][100]


def test_ghost(client) -> None:
    url = f"/api/sessions/{SESSION_A}/ghost"
    r = client.post(url, json={"mu": 0.2, "run_id": RUN_A, "start": 100, "end": 150})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["t"] == list(range(100, 150)) and len(body["obs"]) == 50
    traj = client.get(
        f"/api/sessions/{SESSION_A}/runs/{RUN_A}/trajectory", params={"start": 100, "end": 101}
    ).json()
    assert body["obs"][0] == pytest.approx(traj["obs"][0])  # starts from the observed state
    same = client.post(url, json={"mu": 0.1, "run_id": RUN_A}).json()
    assert len(same["t"]) == 320
    assert client.post(url, json={"mu": 2.0, "run_id": RUN_A}).status_code == 422
    assert client.post(url, json={"mu": 0.2, "run_id": "nope"}).status_code == 404


def test_weights(client) -> None:
    base = f"/api/sessions/{SESSION_A}/weights"
    hist = client.get(base).json()["items"]
    assert hist[0]["k"] == 0 and hist[0]["run_id"] is None
    n = len(hist)
    assert n > 3 and [h["k"] for h in hist] == list(range(n))
    w2 = client.get(f"{base}/2").json()
    assert w2["k"] == 2 and w2["t"] == hist[2]["t"]
    assert set(w2["matrices"]) == {"W_u", "B", "W_o"}
    for m in w2["matrices"].values():
        assert len(m["data"]) == math.prod(m["shape"])
    stats = client.get(f"{base}/stats").json()
    WeightStats.model_validate(stats)
    assert stats["k"] == list(range(n))
    fro = stats["stats"]["W_u"]["fro"][2]
    data = w2["matrices"]["W_u"]["data"]
    assert fro == pytest.approx(math.sqrt(sum(x * x for x in data)))
    assert stats["stats"]["B"]["max_abs"][2] == pytest.approx(
        max(abs(x) for x in w2["matrices"]["B"]["data"])
    )
    few = client.get(f"{base}/stats", params={"points": 3}).json()
    assert few["k"][0] == 0 and few["k"][-1] == n - 1 and len(few["k"]) <= 4
    spec = client.get(f"{base}/2/spectrum").json()
    sv = spec["matrices"]["W_o"]["singular_values"]
    assert sv == sorted(sv, reverse=True)
    assert spec["matrices"]["W_o"]["condition_number"] == pytest.approx(sv[0] / sv[-1])
    delta = client.get(f"{base}/delta", params={"from_k": 1, "to_k": 2}).json()
    w1 = client.get(f"{base}/1").json()
    d = delta["matrices"]["B"]["data"]
    want = [
        b - a for a, b in zip(w1["matrices"]["B"]["data"], w2["matrices"]["B"]["data"], strict=True)
    ]
    assert d == pytest.approx(want)
    assert delta["stats"]["B"]["fro"] == pytest.approx(math.sqrt(sum(x * x for x in d)))
    assert client.get(f"{base}/999").status_code == 404
    assert client.get(f"{base}/delta", params={"from_k": 999}).status_code == 404


def test_fork_weights_are_inherited(client) -> None:
    hist = client.get(f"/api/sessions/{FORK}/weights").json()["items"]
    assert [h["k"] for h in hist] == [0, 1, 2]
    assert hist[-1]["inherited_from"] == SESSION_A
    a = client.get(f"/api/sessions/{SESSION_A}/weights/2").json()
    f = client.get(f"/api/sessions/{FORK}/weights/2").json()
    assert a["matrices"] == f["matrices"]


def test_architecture(client) -> None:
    body = client.get(f"/api/sessions/{SESSION_A}/architecture").json()
    n_state = body["model_cfg"]["n_state"]
    assert len(body["decay"]) == n_state and all(0 < d < 1 for d in body["decay"])
    assert set(body["param_counts"]["plastic"]) == {"W_u", "B", "W_o"}
    assert body["param_counts"]["frozen"] == {"a_raw": n_state}
    assert body["shapes"]["B"][0] == n_state
    assert body["muon"]["lr"] == body["plasticity_cfg"]["lr"]
    assert set(body["muon"]["lr_scale"]) == {"W_u", "B", "W_o"}


def test_files(client, api_root: Path) -> None:
    body = client.get(f"/api/sessions/{SESSION_A}/files").json()
    paths = {f["path"]: f["size"] for f in body["items"]}
    assert "meta.json" in paths and f"runs/{RUN_A}/per_step.csv" in paths
    assert paths["meta.json"] == (api_root / "sessions" / SESSION_A / "meta.json").stat().st_size
    assert body["total_bytes"] == sum(paths.values())


def test_lineage(client) -> None:
    body = client.get("/api/lineage").json()
    assert set(body["roots"]) == {SESSION_A, SESSION_B}
    nodes = {n["session_id"]: n for n in body["nodes"]}
    assert nodes[FORK]["parent"]["session_id"] == SESSION_A
    assert nodes[SESSION_A]["children"] == [FORK]


def test_sweeps(client) -> None:
    body = client.get("/api/sweeps").json()
    assert body["total"] == 1 and body["items"][0]["sweep_id"] == "sweep-1"
    one = client.get("/api/sweeps/sweep-1").json()
    assert one["config"]["n_sessions"] == 2 and len(one["rows"]) == 2
    assert {"mu", "gain", "baseline_last100", "adaptive_last100"} <= set(one["rows"][0])
    assert client.get("/api/sweeps/nope").status_code == 404
