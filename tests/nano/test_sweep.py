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
    """Session i of a sweep is bit-identical to the same session run alone, both as a batch
    of one and through the session path (``ttt nano session run``)."""
    params, mcfg, _ = load_base(store, "tiny-base")
    cfgs = [
        EnvConfig(mode="linear", mu=0.05),
        EnvConfig(mode="nonlinear", mu=0.2),
        EnvConfig(mode="linear", mu=0.4, obs_noise_std=0.01),
    ]
    seeds = [11, 12, 13]
    steps = 120
    pcfg = PlasticityConfig()
    res = run_batch(mcfg, params, cfgs, seeds, steps, pcfg)
    assert int(res.commits.sum()) > 0 and int((res.attempts - res.commits).sum()) > 0
    for i, (c, sd) in enumerate(zip(cfgs, seeds, strict=True)):
        alone = run_batch(mcfg, params, [c], [sd], steps, pcfg)
        for k in res.mse:
            assert torch.equal(res.mse[k][:, i], alone.mse[k][:, 0]), k
        assert int(res.commits[i]) == int(alone.commits[0])
        assert int(res.attempts[i]) == int(alone.attempts[0])
        # The session path: same bits for every step, same commits.
        r = NanoRunner.fresh(mcfg, params, c, pcfg, seed=sd)
        mse: dict[str, list[torch.Tensor]] = {k: [] for k in res.mse}
        commits = 0
        while r.t < steps:
            out = r.run_chunk(min(r.steps_to_boundary(), steps - r.t), record=False)
            for k in mse:
                mse[k].append(out.mse[k][:, 0])
            commits += sum(st == "commit" for st in out.statuses)
        for k in mse:
            assert torch.equal(torch.cat(mse[k]), res.mse[k][:, i]), k
        assert commits == int(res.commits[i])


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
