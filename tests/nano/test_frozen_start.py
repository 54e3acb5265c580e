"""The *frozen* predictor holds the session's own starting weights in every run: the base
for a new session (so frozen == baseline exactly), the fork point for a fork; resuming does
not change it, and a fork's improvement is measured against it, not against the base."""

from __future__ import annotations

import csv

from ttt.nano import session as S


def _rows(store, sid, rid):
    with open(S.run_dir(store, sid, rid) / "per_step.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _new(store, sid):
    return S.create_session(store, base_id="tiny-base", session_id=sid, mu=0.05, seed=3)


def test_new_session_frozen_equals_baseline_in_every_run(store):
    sid = _new(store, "root")
    runs = [S.run_session(store, sid, steps=40), S.run_session(store, sid, steps=40)]
    for rid in runs:
        rows = _rows(store, sid, rid)
        assert all(r["frozen_mse"] == r["baseline_mse"] for r in rows)
        assert S.read_json_run(store, sid, rid, "run.json")["frozen_weights"] == "session_start"


def test_fork_frozen_is_its_own_start_across_runs_and_resume(store):
    parent = _new(store, "par")
    S.run_session(store, parent, steps=96)
    k = S.weight_history(store, parent)[-1]["k"]
    a = S.fork_session(
        store, parent, from_update=k, new_session_id="fa", overrides={"env": {"mu": 0.2}}
    )
    b = S.fork_session(
        store, parent, from_update=k, new_session_id="fb", overrides={"env": {"mu": 0.2}}
    )
    a1, a2 = S.run_session(store, a, steps=50), S.run_session(store, a, steps=46)
    b1 = S.run_session(store, b, steps=96)
    ra = _rows(store, a, a1) + _rows(store, a, a2)
    rb = _rows(store, b, b1)
    # one long run == two resumed runs, the frozen column included (it is the fork's start)
    assert [r["frozen_mse"] for r in ra] == [r["frozen_mse"] for r in rb]
    assert [r["adaptive_mse"] for r in ra] == [r["adaptive_mse"] for r in rb]
    # the fork's start is not the pretrained base
    assert any(r["frozen_mse"] != r["baseline_mse"] for r in rb)
    m = S.read_metrics(store, b)
    f100 = sum(float(r["frozen_mse"]) for r in rb[-100:]) / len(rb[-100:])
    a100 = sum(float(r["adaptive_mse"]) for r in rb[-100:]) / len(rb[-100:])
    assert m["improvement_last100"] == 1.0 - a100 / f100
