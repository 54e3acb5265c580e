"""The vectorised sweep equals running the same sessions one by one."""

from __future__ import annotations

import json

import torch

from ttt.nano.base import load_base
from ttt.nano.config import PlasticityConfig
from ttt.nano.env import EnvConfig
from ttt.nano.runner import NanoRunner
from ttt.nano.sweep import run_batch, run_sweep, sweep_rows


def test_batched_sessions_equal_one_by_one(store):
    params, mcfg, _ = load_base(store, "tiny-base")
    cfgs = [
        EnvConfig(mode="linear", mu=0.05),
        EnvConfig(mode="nonlinear", mu=0.2),
        EnvConfig(mode="linear", mu=0.4, obs_noise_std=0.01),
    ]
    seeds = [11, 12, 13]
    steps = 96
    pcfg = PlasticityConfig()
    res = run_batch(mcfg, params, cfgs, seeds, steps, pcfg)
    for i, (c, sd) in enumerate(zip(cfgs, seeds, strict=True)):
        # Session i of the sweep is bit-identical to the same session swept alone.
        alone = run_batch(mcfg, params, [c], [sd], steps, pcfg)
        for k in res.mse:
            assert torch.equal(res.mse[k][:, i], alone.mse[k][:, 0]), k
        assert int(res.commits[i]) == int(alone.commits[0])
        assert int(res.attempts[i]) == int(alone.attempts[0])

        # The single-session path (torch.optim.Muon) agrees up to its first update. After
        # that the two Newton-Schulz implementations (bf16 bmm vs bf16 mm) round differently,
        # and Muon maps rounding in the gradient's small singular directions to full-size
        # update directions, so later errors (and borderline decisions) may drift apart.
        r = NanoRunner.fresh(mcfg, params, c, pcfg, seed=sd)
        first = r.run_chunk(record=False)
        assert first.events and first.events[0]["status"] in ("commit", "rollback_loss_regression")
        chunk = pcfg.chunk
        torch.testing.assert_close(
            res.mse["adaptive"][:chunk, i], first.mse["adaptive"][:, 0], rtol=1e-5, atol=0
        )
        torch.testing.assert_close(
            res.mse["baseline"][:chunk, i], first.mse["baseline"][:, 0], rtol=1e-5, atol=0
        )
        # One update later the predictions still agree closely (a wrong lr scale or a
        # different update would not): bf16 rounding alone moves them by a few percent.
        second = r.run_chunk(record=False)
        torch.testing.assert_close(
            res.mse["adaptive"][chunk : 2 * chunk, i],
            second.mse["adaptive"][:, 0],
            rtol=0.25,
            atol=1e-7,
        )
        while r.t < steps:
            r.run_chunk(record=False)
        assert r.engine.attempts.item() == int(res.attempts[i])


def test_sweep_writes_one_table(store):
    sid = run_sweep(
        store,
        n_sessions=3,
        env_modes=("linear", "nonlinear"),
        steps=64,
        base_id="tiny-base",
        seed=5,
    )
    rows = sweep_rows(store, sid)
    assert len(rows) == 6
    assert {r["env_mode"] for r in rows} == {"linear", "nonlinear"}
    d = store.item_dir("sweeps", sid)
    header = (d / "results.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["session_index", "env_mode", "mu"]
    cfg = json.loads((d / "sweep.json").read_text())
    assert cfg["status"] == "completed" and cfg["n_sessions"] == 6
    for r in rows:
        expect = 1 - r["adaptive_last100"] / r["baseline_last100"]
        assert abs(r["gain"] - expect) < 1e-9
