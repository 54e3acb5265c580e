"""The Nano benchmark (``ttt.nano.bench``): seed sets, the offline-best reference, the row
figures and the sweep-throughput reference, on the tiny base."""

from __future__ import annotations

import json
import statistics

import pytest
import torch

from ttt.nano.base import load_base
from ttt.nano.bench import (
    SEED_BASES,
    SETTINGS,
    Setting,
    bench_setting,
    bench_sweep_throughput,
    cached_offline_best,
    offline_best,
    setting_sessions,
    targets_met,
)
from ttt.nano.config import PlasticityConfig
from ttt.nano.env import simulate
from ttt.nano.model import forward, mse_per_step
from ttt.nano.sweep import run_batch


def test_seed_sets_are_disjoint_and_reproducible():
    s = SETTINGS[1]
    tune_cfgs, tune_seeds = setting_sessions(s, 1, 16, "tuning")
    rep_cfgs, rep_seeds = setting_sessions(s, 1, 16, "report")
    assert not set(tune_seeds) & set(rep_seeds)
    assert [c.mu for c in tune_cfgs] != [c.mu for c in rep_cfgs]
    again, again_seeds = setting_sessions(s, 1, 16, "tuning")
    assert again_seeds == tune_seeds and [c.mu for c in again] == [c.mu for c in tune_cfgs]
    lo, hi = s.mu_range
    assert all(lo <= c.mu <= hi for c in tune_cfgs + rep_cfgs)
    assert all(sd < 10_000_000 for sd in tune_seeds + rep_seeds)  # pretraining uses >= 10M
    assert set(SEED_BASES) == {"tuning", "report"}
    with pytest.raises(ValueError, match="seeds must be one of"):
        setting_sessions(s, 1, 4, "test")


def test_offline_best_keeps_the_best_matrices_and_reports_its_stop(store):
    """The kept matrices are the best seen on the training steps, so they fit those steps at
    least as well as the base they start from; last100 is those matrices on the last 100
    steps; the stopping rule is reported as run."""
    params, mcfg, _ = load_base(store, "tiny-base")
    cfgs, seeds = setting_sessions(SETTINGS[1], 1, 3, "tuning")
    steps = 160
    fit = offline_best(mcfg, params, cfgs, seeds, steps, tol=1e9, window=20, max_iters=200)
    # Any improvement is below a huge tolerance: it stops at the first window that has a
    # previous one to compare with (the start's best is +inf).
    assert fit.iterations == 40
    assert fit.window == 20 and fit.tol == 1e9
    capped = offline_best(mcfg, params, cfgs, seeds, steps, tol=-1.0, window=20, max_iters=60)
    assert capped.iterations == 60 and capped.final_rel_change >= 0.0
    assert capped.params is not None
    obs, act, _ = simulate(list(cfgs), list(seeds), steps)
    split = steps - 100
    with torch.no_grad():
        fitted = {**capped.params, "a_raw": params["a_raw"]}
        per_fit = mse_per_step(forward(fitted, mcfg, obs[:-1], act, exact=False), obs)
        per_base = mse_per_step(forward(params, mcfg, obs[:-1], act, exact=False), obs)
    train_fit, train_base = per_fit[:split].mean(0), per_base[:split].mean(0)
    assert (train_fit <= train_base + 1e-7).all()
    assert float(train_fit.sum()) < float(train_base.sum())  # 60 Adam steps do learn
    assert torch.allclose(capped.last100, per_fit[-100:].double().mean(0))


def test_offline_cache_round_trip_and_key(store, tmp_path):
    params, mcfg, _ = load_base(store, "tiny-base")
    cfgs, seeds = setting_sessions(SETTINGS[0], 0, 2, "tuning")
    cache = tmp_path / "fits.json"
    a = cached_offline_best(cache, "k|tuning|2", mcfg, params, cfgs, seeds, 140, tol=1e9)
    assert cache.exists()
    stored = json.loads(cache.read_text())
    assert len(stored) == 1 and next(iter(stored)).endswith("|k|tuning|2|140|tol=1000000000.0")
    b = cached_offline_best(cache, "k|tuning|2", mcfg, params, cfgs, seeds, 140, tol=1e9)
    assert torch.equal(a.last100, b.last100) and a.iterations == b.iterations
    # Other weights are another key: the cache is not reused for another base.
    other = {k: v.clone() for k, v in params.items()}
    other["W_o"] = other["W_o"] * 0.5
    cached_offline_best(cache, "k|tuning|2", mcfg, other, cfgs, seeds, 140, tol=1e9)
    assert len(json.loads(cache.read_text())) == 2


def test_bench_setting_figures_match_the_sessions(store):
    """The row's gains, commit rate and references are the figures of the same sessions run
    through ``run_batch``, and the references' gains use the same baseline."""
    params, mcfg, _ = load_base(store, "tiny-base")
    s = Setting("t", "nonlinear", 0.01, (0.05, 0.2), 0.5)
    pcfg = PlasticityConfig()
    row = bench_setting(
        mcfg,
        params,
        s,
        3,
        seeds="report",
        sessions=4,
        steps=160,
        pcfg=pcfg,
        single_sessions=1,
        offline=True,
        offline_tol=1e9,
    )
    cfgs, seeds = setting_sessions(s, 3, 4, "report")
    res = run_batch(mcfg, params, cfgs, seeds, 160, pcfg)
    gain = res.gain()
    assert row["median_gain"] == statistics.median(gain.tolist())
    assert row["worst_gain"] == float(gain.min())
    assert row["win_rate"] == float((gain > 0).double().mean())
    assert row["commit_rate"] == int(res.commits.sum()) / int(res.attempts.sum())
    rolled = int((res.attempts - res.commits).sum())
    assert sum(row["rollbacks_by_check"].values()) == rolled
    oracle_gain = 1.0 - res.last100("oracle") / res.last100("baseline")
    assert row["oracle_worst_gain"] == float(oracle_gain.min())
    assert row["offline_best_worst_gain"] <= row["offline_best_median_gain"]
    assert row["offline_iters"] > 0 and row["adaptive_over_offline_best"] > 0
    assert row["offline_equal_steps_iters"] == round(
        float(res.attempts.double().mean()) * pcfg.steps_per_update
    )
    assert row["adaptive_over_offline_equal_steps"] > 0
    assert row["ms_per_step"] > 0 and row["sweep_session_steps_per_s"] > 0
    assert row["targets_met"] == targets_met(row)
    off = bench_setting(
        mcfg,
        params,
        s,
        3,
        seeds="report",
        sessions=2,
        steps=120,
        pcfg=pcfg,
        single_sessions=0,
        offline=False,
        offline_tol=1e9,
    )
    assert off["adaptive_over_offline_best"] is None and off["offline_best_worst_gain"] is None
    assert off["adaptive_over_offline_equal_steps"] is None
    assert off["targets_met"]["adaptive_over_offline_best<=2"] is None  # not measured


def test_targets_met_reads_each_target():
    row = {
        "adaptive_over_offline_best": 2.5,
        "worst_gain": 0.5,
        "commit_rate": 0.79,
        "win_rate": 1.0,
        "median_gain": 0.9,
        "gain_target": 0.95,
    }
    assert targets_met(row) == {
        "adaptive_over_offline_best<=2": False,
        "worst_gain>=0.5": True,
        "commit_rate>=0.8": False,
        "win_rate==1": True,
        "median_gain>=0.95": False,
    }


def test_sweep_throughput_reference_runs_sessions_one_by_one(store):
    params, mcfg, _ = load_base(store, "tiny-base")
    out = bench_sweep_throughput(mcfg, params, sessions=6, steps=64, sample=3, seed=1)
    assert out["sampled_sessions_identical"] == "3/3"
    # Three timed repeats, the median counts; every repeat gave the same numbers.
    assert len(out["sweep_seconds_each"]) == 3 and out["repeats_identical"] is True
    assert out["seconds"] == statistics.median(out["sweep_seconds_each"])
    lo_r, hi_r = out["speedup_range_over_repeats"]
    assert lo_r <= out["speedup_vs_one_by_one"] <= hi_r
    with pytest.raises(ValueError, match="repeats"):
        bench_sweep_throughput(mcfg, params, sessions=2, steps=16, sample=1, repeats=0)
    assert out["one_by_one_sample"] == 3
    t = out["one_by_one_seconds_per_session"]
    assert 0 < t["min"] <= t["mean"] <= t["max"]
    lo, hi = out["speedup_95ci"]
    assert lo <= out["speedup_vs_one_by_one"] <= hi
    assert out["speedup_vs_one_by_one"] == pytest.approx(t["mean"] * 6 / out["seconds"])


def test_rollback_judge_leaves_sessions_unchanged_and_counts_every_stepped_rollback(store):
    """Judging rollbacks only adds counters: the same numbers with and without it. With a
    held-out check no write can pass (tol -0.999), every update steps and is rolled back,
    so every one followed by steps is judged; the judge's verdict is the candidate's error
    on those steps against the kept weights', recomputed here for the first update."""
    from ttt.nano.model import mean_over_time
    from ttt.nano.runner import NanoRunner

    params, mcfg, _ = load_base(store, "tiny-base")
    cfgs, seeds = setting_sessions(SETTINGS[1], 1, 3, "tuning")
    pcfg = PlasticityConfig()
    plain = run_batch(mcfg, params, cfgs, seeds, 160, pcfg)
    judged = run_batch(mcfg, params, cfgs, seeds, 160, pcfg, judge_updates=True)
    assert plain.rollbacks_judged is None
    for k in plain.mse:
        assert torch.equal(plain.mse[k], judged.mse[k]), k
    assert torch.equal(plain.commits, judged.commits)
    rolled = judged.attempts - judged.commits
    assert judged.rollbacks_judged is not None and judged.rollbacks_justified is not None
    assert (judged.rollbacks_judged <= rolled).all()
    assert (judged.rollbacks_justified <= judged.rollbacks_judged).all()
    assert judged.commits_judged is not None and judged.commits_harmful is not None
    assert (judged.commits_judged <= judged.commits).all()
    assert (judged.commits_harmful <= judged.commits_judged).all()
    # Every write that moved the weights is judged, but the last (no steps after it); a
    # session's first write can be a zero step (the mass at rest: zero gradient).
    both = judged.commits_judged + judged.rollbacks_judged
    assert (both <= judged.attempts - 1).all() and (both >= judged.attempts - 2).all()

    # Every write commits: each is judged against the weights before it.
    lax = PlasticityConfig.from_dict(
        {"checks": {"post": [{"kind": "loss_regression", "tol": 100.0, "key": "holdout_loss"}]}}
    )
    all_in = run_batch(mcfg, params, cfgs, seeds, 160, lax, judge_updates=True)
    assert all_in.commits.tolist() == all_in.attempts.tolist()
    assert all_in.rollbacks_judged.tolist() == [0, 0, 0]
    assert (all_in.commits_judged <= all_in.commits - 1).all()
    assert (all_in.commits_judged >= all_in.commits - 2).all()

    strict = PlasticityConfig.from_dict(
        {"checks": {"post": [{"kind": "loss_regression", "tol": -0.999, "key": "holdout_loss"}]}}
    )
    every = run_batch(mcfg, params, cfgs, seeds, 160, strict, judge_updates=True)
    assert every.rollbacks_judged is not None and every.rollbacks_justified is not None
    # 160 steps, chunk 16: 10 updates; every rolled-back one is judged except the last
    # (at step 160, no steps after it).
    stepped_back = every.attempts - every.commits
    assert int(stepped_back.sum()) >= 27
    assert (every.rollbacks_judged == stepped_back - 1).all()
    # Rejecting nearly every write throws away useful ones: most were false alarms.
    assert int(every.rollbacks_justified.sum()) < int(every.rollbacks_judged.sum()) // 2

    # The first verdict by hand, for session 1.
    r = NanoRunner.fresh(mcfg, params, cfgs[1], strict, seed=seeds[1])
    r.judge_updates = True
    r.run_chunk(16, record=False)  # first update: stepped and rolled back
    assert r._alternative is not None
    cand, h_cand, rolled_now, committed_now = r._alternative
    assert bool(rolled_now[0]) and not bool(committed_now[0])
    for k in cand:
        assert not torch.equal(cand[k], r.backend.params[k].detach())  # it had moved
    kept = {k: v.detach().clone() for k, v in r.backend.params.items()}
    h_kept = r.h_adapt.clone()
    out = r.run_chunk(16, record=False)
    obs = torch.cat([out.obs.unsqueeze(1), r.env.obs.unsqueeze(0)])  # (17, 1, 4)
    act = out.actions.unsqueeze(1)
    with torch.no_grad():
        c = forward({**cand, "a_raw": params["a_raw"]}, mcfg, obs[:-1], act, h_cand)
        k_ = forward({**kept, "a_raw": params["a_raw"]}, mcfg, obs[:-1], act, h_kept)
    worse = bool(mean_over_time(mse_per_step(c, obs)) > mean_over_time(mse_per_step(k_, obs)))
    assert torch.equal(mse_per_step(k_, obs)[:, 0], out.mse["adaptive"][:, 0])
    assert int(r.rollbacks_judged[0]) == 1 and int(r.rollbacks_justified[0]) == int(worse)
    assert r._alternative is not None  # the second update was rolled back too: judged next
