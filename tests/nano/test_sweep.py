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
        r = NanoRunner.fresh(mcfg, params, c, pcfg, seed=sd)
        mse, base, statuses = [], [], []
        while r.t < steps:
            out = r.run_chunk(record=False)
            mse.append(out.mse["adaptive"][:, 0])
            base.append(out.mse["baseline"][:, 0])
            statuses += [e["status"] for e in out.events]
        single = torch.cat(mse)
        # The batched Newton-Schulz (bf16 bmm) rounds slightly differently from torch.optim.Muon
        # (bf16 mm), so errors agree to float tolerance and every decision agrees exactly.
        torch.testing.assert_close(res.mse["adaptive"][:, i], single, rtol=1e-2, atol=1e-6)
        torch.testing.assert_close(res.mse["baseline"][:, i], torch.cat(base), rtol=1e-5, atol=0)
        assert int(res.commits[i]) == statuses.count("commit")
        assert int(res.attempts[i]) == len(statuses)


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
