"""Nano sessions: files, exact resume, exact forks, overrides, bad input."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from ttt.nano import session as S
from ttt.store import CorruptFileError, InvalidIdError, NotFoundError, read_tensors


def _rows(store, sid, rid):
    with open(S.run_dir(store, sid, rid) / "per_step.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _events(store, sid, rid):
    return json.loads((S.run_dir(store, sid, rid) / "update_events.json").read_text())


def _new(store, **kw):
    kw.setdefault("mu", 0.11)
    kw.setdefault("seed", 7)
    kw.setdefault("base_id", "tiny-base")
    return S.create_session(store, **kw)


def test_create_and_run_writes_seed_compatible_files(store):
    sid = _new(store, session_id="s1")
    rid = S.run_session(store, sid, steps=100)
    d = store.item_dir("sessions", sid)
    meta = json.loads((d / "meta.json").read_text())
    for key in (
        "schema_version",
        "session_id",
        "parent",
        "created_at",
        "mu",
        "env_mode",
        "model_signature",
        "base_ckpt_hash",
        "model_cfg",
        "plasticity_cfg",
    ):
        assert key in meta
    metrics = json.loads((d / "metrics.json").read_text())
    for key in (
        "baseline_mse_mean",
        "adaptive_mse_mean",
        "baseline_mse_last100_mean",
        "adaptive_mse_last100_mean",
        "updates_attempted",
        "updates_committed",
        "updates_rolled_back",
    ):
        assert key in metrics
    rows = _rows(store, sid, rid)
    assert len(rows) == 100
    assert [int(r["t"]) for r in rows] == list(range(100))
    assert {"t", "baseline_mse", "adaptive_mse", "did_update", "update_ok"} <= set(rows[0])
    events = _events(store, sid, rid)
    assert len(events) == 100 // meta["plasticity_cfg"]["chunk"]
    assert metrics["updates_attempted"] == len(events)
    assert sum(int(r["did_update"]) for r in rows) == len(events)
    for e in events:
        assert e["status"] in (
            "commit",
            "rollback_loss_regression",
            "rollback_grad_norm",
            "rollback_state_norm",
        )
        assert e["run_id"] == rid
    traj = json.loads((S.run_dir(store, sid, rid) / "trajectory.json").read_text())
    assert len(traj["obs"]) == 100 and len(traj["pred_adaptive"]) == 100
    run = json.loads((S.run_dir(store, sid, rid) / "run.json").read_text())
    assert run["status"] == "completed" and run["t_start"] == 0 and run["t_end"] == 100
    hist = S.weight_history(store, sid)
    assert hist[0]["k"] == 0
    assert len(hist) == 1 + metrics["updates_committed"]


def test_resume_equals_uninterrupted_run(store):
    a = _new(store, session_id="a")
    b = _new(store, session_id="b")
    # Stop in the middle of a chunk on purpose.
    r1 = S.run_session(store, a, steps=37)
    r2 = S.run_session(store, a, steps=163)
    rb = S.run_session(store, b, steps=200)
    rows_a = _rows(store, a, r1) + _rows(store, a, r2)
    rows_b = _rows(store, b, rb)
    cols = ("t", "baseline_mse", "adaptive_mse", "oracle_mse", "did_update", "update_ok")
    assert [[r[c] for c in cols] for r in rows_a] == [[r[c] for c in cols] for r in rows_b]
    ev_a = _events(store, a, r1) + _events(store, a, r2)
    ev_b = _events(store, b, rb)
    key = ("t", "status", "pre_loss", "post_loss", "grad_norm", "lr")
    assert [[e[k] for k in key] for e in ev_a] == [[e[k] for k in key] for e in ev_b]
    da, db = store.item_dir("sessions", a), store.item_dir("sessions", b)
    for f in ("plastic_state.safetensors", "optim_state.safetensors"):
        ta, tb = read_tensors(da / f, check_finite=False), read_tensors(db / f, check_finite=False)
        assert ta.keys() == tb.keys()
        for k in ta:
            # Bit-exact (NaN marks unused history slots, so compare with equal_nan).
            torch.testing.assert_close(ta[k], tb[k], rtol=0, atol=0, equal_nan=True, msg=k)


def test_fork_at_update_k_then_same_data_equals_original_continuation(store):
    parent = _new(store, session_id="p")
    rp = S.run_session(store, parent, steps=160)
    hist = S.weight_history(store, parent)
    assert len(hist) >= 4, "tiny run should commit a few updates"
    rec = hist[3]
    child = S.fork_session(store, parent, from_update=rec["k"], new_session_id="child")
    meta = S.read_meta(store, child)
    assert meta["parent"] == {
        "session_id": parent,
        "update_index": rec["k"],
        "t": rec["t"],
        "with_momentum": True,
    }
    # Weights at the fork point are the parent's weights after update k.
    w_k = S.weights_at(store, parent, rec["k"])
    w_child = read_tensors(store.item_dir("sessions", child) / "plastic_state.safetensors")
    for n in w_k:
        assert torch.equal(w_k[n], w_child[n])
    rc = S.run_session(store, child, steps=160 - (rec["t"] + 1))
    rows_p = [r for r in _rows(store, parent, rp) if int(r["t"]) > rec["t"]]
    rows_c = _rows(store, child, rc)
    cols = ("t", "adaptive_mse", "baseline_mse", "did_update", "update_ok")
    assert [[r[c] for c in cols] for r in rows_c] == [[r[c] for c in cols] for r in rows_p]
    wp = read_tensors(store.item_dir("sessions", parent) / "plastic_state.safetensors")
    wc = read_tensors(store.item_dir("sessions", child) / "plastic_state.safetensors")
    for n in wp:
        assert torch.equal(wp[n], wc[n])
    # The child's history shares the parent's blobs up to k, then continues numbering.
    hc = S.weight_history(store, child)
    assert [r["k"] for r in hc] == [r["k"] for r in S.weight_history(store, parent)]
    assert hc[3]["segment"] == hist[3]["segment"]


def test_fork_without_momentum_and_with_different_continuation(store):
    parent = _new(store, session_id="p2")
    S.run_session(store, parent, steps=96)
    child = S.fork_session(
        store, parent, from_update=2, with_momentum=False, overrides={"env": {"mu": 0.3}}
    )
    opt = read_tensors(
        store.item_dir("sessions", child) / "optim_state.safetensors", check_finite=False
    )
    assert not any(k.endswith("momentum_buffer") for k in opt)
    meta = S.read_meta(store, child)
    assert meta["mu"] == 0.3 and meta["parent"]["with_momentum"] is False
    rid = S.run_session(store, child, steps=40)
    rows = _rows(store, child, rid)
    assert all(abs(float(r["mu"]) - 0.3) < 1e-12 for r in rows)


def test_fork_from_latest_continues_like_the_parent(store):
    parent = _new(store, session_id="p3")
    S.run_session(store, parent, steps=50)
    child = S.fork_session(store, parent)
    rp = S.run_session(store, parent, steps=60)
    rc = S.run_session(store, child, steps=60)
    assert [r["adaptive_mse"] for r in _rows(store, parent, rp)] == [
        r["adaptive_mse"] for r in _rows(store, child, rc)
    ]


def test_run_records_effective_config_and_overrides(store):
    sid = _new(store, session_id="ov")
    rid = S.run_session(
        store,
        sid,
        steps=32,
        overrides={"plasticity": {"lr": 0.005}, "env": {"obs_noise_std": 0.01}},
    )
    run = S.read_json_run(store, sid, rid, "run.json")
    assert run["plasticity_cfg"]["lr"] == 0.005
    assert run["env_cfg"]["obs_noise_std"] == 0.01
    assert run["overrides"] == {"plasticity": {"lr": 0.005}, "env": {"obs_noise_std": 0.01}}
    # Overrides are per run; the session's own config is unchanged.
    assert S.read_meta(store, sid)["plasticity_cfg"]["lr"] != 0.005


def test_mu_outside_pretraining_range_and_schedules(store):
    sid = _new(store, mu=0.5, env_overrides={"schedule": "jump", "jump_step": 20, "jump_to": 0.1})
    rid = S.run_session(store, sid, steps=40)
    mus = [float(r["mu"]) for r in _rows(store, sid, rid)]
    assert mus[:20] == [0.5] * 20 and mus[20:] == [0.1] * 20


def test_bad_input_gives_clear_errors(store):
    with pytest.raises(NotFoundError, match="nope"):
        S.run_session(store, "nope", steps=10)
    with pytest.raises(InvalidIdError):
        S.run_session(store, "../etc", steps=10)
    with pytest.raises(ValueError, match="bogus"):
        _new(store, plasticity_overrides={"bogus": 1})
    with pytest.raises(ValueError, match="mu"):
        _new(store, mu=1.5)
    sid = _new(store, session_id="bad")
    with pytest.raises(ValueError, match="steps"):
        S.run_session(store, sid, steps=0)
    with pytest.raises(ValueError, match="from_update"):
        S.fork_session(store, sid, from_update=99)
    meta = store.item_dir("sessions", sid) / "meta.json"
    meta.write_text("{ not json")
    with pytest.raises(CorruptFileError, match=r"meta\.json"):
        S.run_session(store, sid, steps=10)
    items, errors = S.list_sessions(store)
    assert [e["id"] for e in errors] == ["bad"]


def test_nan_weights_are_refused_on_load(store):
    from safetensors.torch import save_file

    sid = _new(store, session_id="nan")
    p = store.item_dir("sessions", sid) / "plastic_state.safetensors"
    w = read_tensors(p)
    w["W_o"][0, 0] = float("nan")
    save_file({k: v.contiguous() for k, v in w.items()}, str(p))
    with pytest.raises(CorruptFileError, match="plastic_state"):
        S.run_session(store, sid, steps=10)


def test_ghost_trajectory_with_the_true_mu_reproduces_a_noise_free_run(store):
    sid = _new(store, session_id="ghost", mu=0.13)
    rid = S.run_session(store, sid, steps=50)
    traj = json.loads((S.run_dir(store, sid, rid) / "trajectory.json").read_text())
    same = S.ghost_trajectory(store, sid, rid, mu=0.13)
    assert same["t"] == list(range(50))
    for a, b in zip(same["obs"], traj["obs"], strict=True):
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-6
    other = S.ghost_trajectory(store, sid, rid, mu=0.5, start=10, end=30)
    assert other["t"] == list(range(10, 30))
    assert other["obs"][0] == same["obs"][10]
    assert other["obs"][-1] != same["obs"][29]
    with pytest.raises(ValueError, match="mu"):
        S.ghost_trajectory(store, sid, rid, mu=2.0)
