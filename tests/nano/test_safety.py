"""Nano with canary rollback and SPFW: off by default, exact on resume, batched = alone."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from ttt.engine import flatten_canary_grads
from ttt.nano import session as S
from ttt.nano.base import load_base
from ttt.nano.config import PlasticityConfig, safety_overrides
from ttt.nano.env import EnvConfig
from ttt.nano.runner import NanoRunner
from ttt.nano.sweep import run_batch, run_sweep, sweep_rows
from ttt.store import read_tensors

SAFE = {
    "canary": {"n": 3, "steps": 32},
    "spfw": {"mode": "halfspace", "slack": 0.0},
    "checks": {
        "pre": [],
        "post": [
            {"kind": "loss_regression", "tol": 0.01},
            {"kind": "canary_delta", "max_delta": 0.05},
            {"kind": "canary_robust_z", "z_max": 6.0, "min_history": 4},
        ],
    },
}


def _rows(store, sid, rid):
    with open(S.run_dir(store, sid, rid) / "per_step.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _events(store, sid, rid):
    return json.loads((S.run_dir(store, sid, rid) / "update_events.json").read_text())


def _new(store, sid, **kw):
    kw.setdefault("mu", 0.05)
    kw.setdefault("seed", 3)
    return S.create_session(store, base_id="tiny-base", session_id=sid, **kw)


def test_defaults_are_off_and_validated():
    cfg = PlasticityConfig()
    assert cfg.canary is None and cfg.spfw is None
    assert cfg.canary_config() is None and cfg.spfw_config() is None
    with pytest.raises(ValueError, match="canary is off"):
        PlasticityConfig(checks={"pre": [], "post": [{"kind": "canary_delta"}]})
    with pytest.raises(ValueError, match=r"spfw needs plasticity\.canary"):
        PlasticityConfig(spfw={"mode": "halfspace"})
    with pytest.raises(ValueError, match=r"canary\.steps"):
        PlasticityConfig(canary={"steps": 1})
    with pytest.raises(ValueError, match=r"plasticity\.canary: unknown field\(s\)"):
        PlasticityConfig(canary={"bogus": 1})
    with pytest.raises(ValueError, match=r"spfw\.mode"):
        PlasticityConfig(canary={}, spfw={"mode": "sideways"})
    ov = safety_overrides(cfg.checks, canary_z=5.0, spfw="nullspace")
    full = PlasticityConfig.from_dict({**cfg.to_dict(), **ov})
    assert full.canary == {} and full.spfw == {"mode": "nullspace"}
    kinds = [c["kind"] for c in full.checks["post"]]
    assert kinds == ["loss_regression", "state_norm_max", "canary_robust_z"]
    assert safety_overrides(cfg.checks) == {}


def test_session_with_canary_and_spfw_records_everything(store):
    sid = _new(store, "safe", plasticity_overrides=SAFE)
    rid = S.run_session(store, sid, steps=96)
    rows = _rows(store, sid, rid)
    assert list(rows[0])[-2:] == ["canary_loss", "canary_delta"]
    events = _events(store, sid, rid)
    assert len(events) == 6
    for e, row in zip(events, [r for r in rows if r["did_update"] == "1"], strict=True):
        assert e["canary_before"] is not None and e["probes_pre"]["canary_loss.2"] is not None
        p = e["projection"]
        assert p["mode"] == "halfspace" and p["n_canaries"] == 3
        # SPFW holds for the update as applied, whatever the outcome of the post-checks.
        assert p["violations_after"] == 0 and p["max_violation_after"] == 0.0
        assert max(p["first_order_after"]) <= 1e-9
        assert len(e["grad_alignment"]["cos"]) == 3
        in_force = e["canary_after"] if e["status"] == "commit" else e["canary_before"]
        assert float(row["canary_loss"]) == pytest.approx(in_force)
        assert float(row["canary_delta"]) == pytest.approx(e["canary_delta"])
    assert any(e["projection"]["violations_before"] > 0 for e in events)
    assert all(r["canary_loss"] == "" for r in rows if r["did_update"] == "0")
    summary = json.loads((S.run_dir(store, sid, rid) / "summary.json").read_text())
    assert summary["canary_loss_first"] == events[0]["canary_before"]
    assert summary["spfw_projected"] >= 1


def test_canary_rollback_restores_the_weights(store):
    # Not even a tiny rise of the canary loss is allowed: every write here raises it.
    checks = {"pre": [], "post": [{"kind": "canary_delta", "max_delta": 0.0}]}
    sid = _new(store, "cr", plasticity_overrides={"canary": {"n": 2}, "checks": checks})
    w0 = read_tensors(store.item_dir("sessions", sid) / "plastic_state.safetensors")
    rid = S.run_session(store, sid, steps=48)
    events = _events(store, sid, rid)
    assert [e["status"] for e in events] == ["rollback_canary"] * 3
    assert all(e["canary_delta"] > 0 for e in events)
    assert "above the limit 0" in events[0]["reasons"][0]
    assert events[0]["checks"][-1]["canary_delta"] == events[0]["canary_delta"]
    w1 = read_tensors(store.item_dir("sessions", sid) / "plastic_state.safetensors")
    for k in w0:
        assert torch.equal(w0[k], w1[k])
    metrics = S.read_metrics(store, sid)
    assert metrics["rollbacks_by_status"] == {"rollback_canary": 3}


def test_resume_is_bit_identical_with_canary_and_spfw(store):
    a = _new(store, "ra", plasticity_overrides=SAFE)
    b = _new(store, "rb", plasticity_overrides=SAFE)
    n = 72  # not a multiple of the chunk: the resume point is mid-chunk
    r1 = S.run_session(store, a, steps=n)
    r2 = S.run_session(store, a, steps=n)
    rb = S.run_session(store, b, steps=2 * n)

    # Every column but frozen_mse ("this run's start weights, never updated": per run).
    def cols(rows):
        return [{k: v for k, v in r.items() if k != "frozen_mse"} for r in rows]

    assert cols(_rows(store, a, r1) + _rows(store, a, r2)) == cols(_rows(store, b, rb))
    ev_a = _events(store, a, r1) + _events(store, a, r2)
    ev_b = _events(store, b, rb)
    strip = ("run_id", "duration_ms")
    assert [{k: v for k, v in e.items() if k not in strip} for e in ev_a] == [
        {k: v for k, v in e.items() if k not in strip} for e in ev_b
    ]
    assert any(e["canary_z"] is not None for e in ev_b), "robust z should have had history"
    da, db = store.item_dir("sessions", a), store.item_dir("sessions", b)
    for f in ("plastic_state.safetensors", "optim_state.safetensors", "state.safetensors"):
        ta, tb = read_tensors(da / f, check_finite=False), read_tensors(db / f, check_finite=False)
        assert ta.keys() == tb.keys()
        for k in ta:
            torch.testing.assert_close(ta[k], tb[k], rtol=0, atol=0, equal_nan=True, msg=k)
    assert "engine.history.canary_delta.values" in read_tensors(
        da / "optim_state.safetensors", check_finite=False
    )


def test_fork_at_an_update_replays_exactly_with_canary_and_spfw(store):
    parent = _new(store, "fp", plasticity_overrides=SAFE)
    rp = S.run_session(store, parent, steps=128)
    hist = S.weight_history(store, parent)
    assert len(hist) >= 3
    rec = hist[2]
    child = S.fork_session(store, parent, from_update=rec["k"], new_session_id="fc")
    rc = S.run_session(store, child, steps=128 - (rec["t"] + 1))
    rows_p = [r for r in _rows(store, parent, rp) if int(r["t"]) > rec["t"]]
    rows_c = _rows(store, child, rc)
    for r in (*rows_p, *rows_c):
        r.pop("frozen_mse")  # per run: the weights this run started from
    assert rows_c == rows_p


def test_sessions_saved_before_the_canary_option_resume_with_it(store):
    sid = _new(store, "old")
    S.run_session(store, sid, steps=40)
    keys = read_tensors(
        store.item_dir("sessions", sid) / "optim_state.safetensors", check_finite=False
    )
    assert not any("canary" in k for k in keys)
    rid = S.run_session(store, sid, steps=40, overrides={"plasticity": SAFE})
    events = _events(store, sid, rid)
    assert events and all(e["canary_before"] is not None for e in events)
    # Default sessions keep the original per-step columns.
    assert "canary_loss" not in _rows(store, sid, S.list_runs(store, sid)[0]["run_id"])[0]


def test_sweep_with_canary_and_spfw_equals_sessions_alone(store):
    params, mcfg, _ = load_base(store, "tiny-base")
    cfgs = [EnvConfig(mode="linear", mu=0.05), EnvConfig(mode="nonlinear", mu=0.2)]
    seeds = [11, 12]
    pcfg = PlasticityConfig.from_dict({**PlasticityConfig().to_dict(), **SAFE})
    res = run_batch(mcfg, params, cfgs, seeds, 64, pcfg)
    assert res.canary_rollbacks is not None and res.canary_start is not None
    for i in range(2):
        alone = run_batch(mcfg, params, [cfgs[i]], [seeds[i]], 64, pcfg)
        for k in res.mse:
            assert torch.equal(res.mse[k][:, i], alone.mse[k][:, 0]), k
        assert int(res.commits[i]) == int(alone.commits[0])
        assert torch.equal(res.canary_end[i : i + 1], alone.canary_end)
    # The batched canary gradients are the per-session ones.
    r = NanoRunner.batch(mcfg, params, cfgs, pcfg, seeds)
    one = NanoRunner.batch(mcfg, params, cfgs[1:], pcfg, seeds[1:])
    gb = flatten_canary_grads(r._canary_grads(), r.backend.params, 2)
    g1 = flatten_canary_grads(one._canary_grads(), one.backend.params, 1)
    torch.testing.assert_close(gb[1], g1[0], rtol=1e-6, atol=1e-9)


def test_sweep_table_has_canary_columns(store, tmp_path):
    from ttt.nano.sweep import write_table

    sid = run_sweep(
        store,
        n_sessions=2,
        steps=48,
        base_id="tiny-base",
        plasticity_overrides=SAFE,
    )
    rows = sweep_rows(store, sid)
    assert {"canary_rollbacks", "canary_loss_start", "spfw_fraction_removed_mean"} <= set(rows[0])
    header = (store.item_dir("sweeps", sid) / "results.csv").read_text().splitlines()[0]
    assert header.endswith("canary_loss_end,spfw_fraction_removed_mean")
    write_table(rows, tmp_path / "t.csv")
    assert "canary_rollbacks" in (tmp_path / "t.csv").read_text().splitlines()[0]


def test_cli_switches_canary_and_spfw_on(tiny_base_root, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from ttt.cli.main import app

    root = tmp_path / "artifacts"
    shutil.copytree(tiny_base_root, root)
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "nano",
            "session",
            "new",
            "--mu",
            "0.05",
            "--seed",
            "1",
            "--canary-z",
            "6",
            "--spfw",
            "nullspace",
            "--id",
            "cli-safe",
            "--artifacts-root",
            str(root),
        ],
    )
    assert res.exit_code == 0, res.output
    meta = json.loads((root / "sessions" / "cli-safe" / "meta.json").read_text())
    pc = meta["plasticity_cfg"]
    assert pc["canary"] == {} and pc["spfw"] == {"mode": "nullspace"}
    assert pc["checks"]["post"][-1] == {"kind": "canary_robust_z", "z_max": 6.0}
    bad = runner.invoke(
        app,
        ["nano", "session", "new", "--spfw", "sideways", "--artifacts-root", str(root)],
    )
    assert bad.exit_code != 0 and "spfw.mode" in bad.output
