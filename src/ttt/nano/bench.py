"""Nano quality and speed benchmark (``ttt bench nano --json``).

For each setting, on two disjoint seed sets — *tuning* seeds (defaults were chosen on
these) and *report* seeds (never looked at while choosing) — N held-out sessions × 600
steps, seeds disjoint from pretraining, μ drawn uniformly from the setting's range. Per
setting and seed set:

* ``median_gain`` / ``worst_gain`` / ``win_rate``: gain = 1 − adaptive/baseline on the
  last-100-step MSE (baseline = the frozen base on the same trajectory);
* ``adaptive_over_offline_best``: the median over sessions of adaptive / offline-best, where
  offline-best is the same architecture's plastic matrices fitted offline (full BPTT, Adam,
  best matrices kept) on the session's own first ``steps - 100`` steps until the total
  training loss improves by less than ``offline_tol`` (relative) over 500 iterations, then
  run over all steps and scored on the same last 100 (``offline_iters``,
  ``offline_final_rel_change`` and ``offline_converged`` say how far it got). The
  simulator given the true μ is the floor (``oracle_floor_last100_median``);
* ``adaptive_over_offline_equal_steps``: the same ratio against the offline fit stopped after
  ``offline_equal_steps_iters`` iterations, as many as the online learner took optimiser
  steps per session (per-step efficiency, apart from compute);
* ``oracle_worst_gain`` / ``offline_best_worst_gain`` / ``offline_best_median_gain``: the
  gain (over the same frozen baseline) of the μ-oracle and of the offline-best on the same
  sessions, so a missed gain target can be told apart from one no learner of this
  architecture (or not even the true simulator) reaches on these sessions;
* ``commit_rate``: committed / proposed updates; ``rollbacks_by_check``: every rolled-back
  update classified by the check that decided it; ``rollbacks_justified_rate``: of the
  rolled-back writes (``rollbacks_judged``), the share whose candidate weights would have
  predicted the steps up to the next update worse than the weights kept — the rest were
  false alarms that threw away a useful write; ``commits_harmful_rate``: of the committed
  writes, the share that predicted those steps worse than the weights before them;
* ``ms_per_step``: one session (the session code path), single-threaded unless told.

``bench_sweep_throughput`` times a sessions × steps sweep and, in the same run, a random
sample of the same sessions run one by one through the session code path (compute only,
no files, both with the same thread count), states the spread of the per-session times and
checks that each sampled session's per-step errors equal the sweep's bit for bit.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ttt.nano.config import PlasticityConfig
from ttt.nano.env import EnvConfig, simulate
from ttt.nano.model import (
    NanoSSMConfig,
    features,
    forward,
    mean_over_time,
    mse_per_step,
    plastic_names,
)
from ttt.nano.runner import NanoRunner
from ttt.nano.sweep import run_batch
from ttt.store import atomic_write_text

# Evaluation seeds (< 10M; pretraining uses >= 10M). Report seeds are the original ones.
SEED_BASES = {"report": 5_000_000, "tuning": 6_000_000}
BENCH_SEED_BASE = SEED_BASES["report"]


@dataclass(frozen=True)
class Setting:
    name: str
    env_mode: str
    noise_std: float
    mu_range: tuple[float, float]
    gain_target: float | None = None  # the frozen-base target on median gain


SETTINGS: tuple[Setting, ...] = (
    Setting("linear_noise0", "linear", 0.0, (0.02, 0.25), 0.95),
    Setting("nonlinear_noise0", "nonlinear", 0.0, (0.02, 0.25), 0.90),
    Setting("linear_noise0.01", "linear", 0.01, (0.02, 0.25), 0.80),
    Setting("nonlinear_noise0.01", "nonlinear", 0.01, (0.02, 0.25), 0.65),
    Setting("linear_mu_out_of_range", "linear", 0.0, (0.30, 0.60), None),
)
# Targets of issue 17 (every setting): adaptive / offline-best, worst gain, commit rate.
TARGETS = {"adaptive_over_offline_best": 2.0, "worst_gain": 0.5, "commit_rate": 0.8}


def setting_sessions(
    s: Setting, index: int, n: int, seeds: str = "report"
) -> tuple[list[EnvConfig], list[int]]:
    """The ``n`` sessions of setting ``s`` (its position ``index``) in seed set ``seeds``."""
    if seeds not in SEED_BASES:
        raise ValueError(f"seeds must be one of {', '.join(SEED_BASES)}, got {seeds!r}")
    base = SEED_BASES[seeds]
    g = torch.Generator().manual_seed(base + 7919 * index)
    lo, hi = s.mu_range
    mus = (lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64)).tolist()
    cfgs = [EnvConfig(mode=s.env_mode, mu=m, obs_noise_std=s.noise_std) for m in mus]
    return cfgs, [base + 1000 * index + i for i in range(n)]


@dataclass
class OfflineFit:
    """The offline-best reference of S sessions and how converged it is."""

    last100: Tensor  # (S,) last-100 MSE of each session's best fitted matrices
    iterations: int
    final_rel_change: float  # relative change of the total best training loss, last window
    worst_session_rel_change: float  # the same per session, the largest
    tol: float
    window: int
    # The fitted plastic matrices (S, r, c) per name; None when read from a cache.
    params: dict[str, Tensor] | None = None


def offline_best(
    mcfg: NanoSSMConfig,
    base: dict[str, Tensor],
    cfgs: Sequence[EnvConfig],
    seeds: Sequence[int],
    steps: int,
    *,
    tol: float = 0.01,
    window: int = 500,
    max_iters: int = 8000,
    lr: float = 1e-2,
) -> OfflineFit:
    """Plastic matrices fitted offline on each session's first ``steps - 100`` steps.

    Per-session matrices (S, r, c) start from the base and are trained with Adam on
    full-sequence BPTT, keeping each session's best matrices (lowest training loss). The
    fit stops when the total best training loss improved by less than ``tol`` (relative)
    over the last ``window`` iterations, or after ``max_iters``. The problem is badly
    conditioned (noise-free sessions keep improving slowly for thousands of iterations),
    so the stopping point is reported with the result. The best matrices then run over all
    steps (hidden state carried) and are scored on the last 100.
    """
    obs, act, _ = simulate(list(cfgs), list(seeds), steps)  # (T+1,S,4), (T,S,2)
    s = len(seeds)
    split = steps - 100
    params = {
        n: base[n].unsqueeze(0).repeat(s, 1, 1).clone().requires_grad_(True) for n in plastic_names
    }
    keep = {n: p.detach().clone() for n, p in params.items()}
    opt = torch.optim.Adam(params.values(), lr=lr)
    x = features(mcfg, obs[:split], act[:split])  # (T, S, in): fixed inputs
    best = torch.full((s,), math.inf, dtype=torch.float64)
    marks = [best.clone()]
    it, rel, worst = 0, math.inf, math.inf
    while it < max_iters:
        opt.zero_grad()
        out = forward({**params, "a_raw": base["a_raw"]}, mcfg, obs[:split], act[:split], x=x)
        loss = mean_over_time(mse_per_step(out, obs[: split + 1]))  # (S,)
        with torch.no_grad():  # the loss is at the weights before this step
            better = loss.detach().double() < best
            best = torch.where(better, loss.detach().double(), best)
            for n, w in params.items():
                keep[n] = torch.where(better.view(-1, 1, 1), w.detach(), keep[n])
        loss.sum().backward()
        opt.step()
        it += 1
        if it % window == 0:
            marks.append(best.clone())
            prev = marks[-2]
            rel = float((prev.sum() - best.sum()) / best.sum())
            worst = float(((prev - best) / best.clamp(min=1e-30)).max())
            if rel < tol:
                break
    with torch.no_grad():
        p = {**keep, "a_raw": base["a_raw"]}
        per = mse_per_step(forward(p, mcfg, obs[:-1], act, exact=False), obs)  # (T, S)
    return OfflineFit(
        last100=per[-100:].double().mean(0),
        iterations=it,
        final_rel_change=rel,
        worst_session_rel_change=worst,
        tol=tol,
        window=window,
        params=keep,
    )


def cached_offline_best(
    cache: Path | None,
    key: str,
    mcfg: NanoSSMConfig,
    base: dict[str, Tensor],
    cfgs: Sequence[EnvConfig],
    seeds: Sequence[int],
    steps: int,
    *,
    tol: float,
) -> OfflineFit:
    """``offline_best``, read from / written to a JSON cache file when one is given (the fit
    depends only on the base, the sessions and the tolerance, never on the plasticity
    config being measured). ``key`` must name the sessions (setting, seed set, count)."""
    from ttt.nano.base import weights_hash

    full = f"{weights_hash(base)}|{key}|{steps}|tol={tol}"
    data: dict[str, Any] = {}
    if cache is not None and cache.exists():
        data = json.loads(cache.read_text(encoding="utf-8"))
    if full in data:
        d = data[full]
        return OfflineFit(
            last100=torch.tensor(d["last100"], dtype=torch.float64),
            iterations=d["iterations"],
            final_rel_change=d["final_rel_change"],
            worst_session_rel_change=d["worst_session_rel_change"],
            tol=d["tol"],
            window=d["window"],
        )
    fit = offline_best(mcfg, base, cfgs, seeds, steps, tol=tol)
    if cache is not None:
        data[full] = {**asdict(fit), "last100": fit.last100.tolist()}
        del data[full]["params"]
        atomic_write_text(cache, json.dumps(data))
    return fit


def _run_alone(
    mcfg: NanoSSMConfig,
    base: dict[str, Tensor],
    cfg: EnvConfig,
    seed: int,
    steps: int,
    pcfg: PlasticityConfig,
) -> tuple[float, Tensor]:
    """One session through the session code path: (seconds, adaptive per-step MSE (T,))."""
    t0 = time.perf_counter()
    r = NanoRunner.fresh(mcfg, base, cfg, pcfg, seed=seed)
    parts = []
    while r.t < steps:
        out = r.run_chunk(min(r.steps_to_boundary(), steps - r.t), record=False)
        parts.append(out.mse["adaptive"][:, 0])
    return time.perf_counter() - t0, torch.cat(parts)


def _median(x: Tensor) -> float:
    return float(statistics.median(x.tolist()))


def bench_setting(
    mcfg: NanoSSMConfig,
    base: dict[str, Tensor],
    s: Setting,
    index: int,
    *,
    seeds: str,
    sessions: int,
    steps: int,
    pcfg: PlasticityConfig,
    single_sessions: int,
    offline: bool,
    offline_tol: float,
    offline_cache: Path | None = None,
) -> dict[str, Any]:
    cfgs, sds = setting_sessions(s, index, sessions, seeds)
    res = run_batch(mcfg, base, cfgs, sds, steps, pcfg, judge_updates=True)
    gain = res.gain()
    a100 = res.last100("adaptive")
    attempts, commits = int(res.attempts.sum()), int(res.commits.sum())
    assert res.rollbacks_judged is not None and res.rollbacks_justified is not None
    judged, justified = int(res.rollbacks_judged.sum()), int(res.rollbacks_justified.sum())
    assert res.commits_judged is not None and res.commits_harmful is not None
    c_judged, harmful = int(res.commits_judged.sum()), int(res.commits_harmful.sum())
    single = [
        _run_alone(mcfg, base, c, sd, steps, pcfg)[0]
        for c, sd in zip(cfgs[:single_sessions], sds[:single_sessions], strict=True)
    ]
    row: dict[str, Any] = {
        "setting": s.name,
        "seeds": seeds,
        "env_mode": s.env_mode,
        "noise_std": s.noise_std,
        "mu_range": list(s.mu_range),
        "sessions": sessions,
        "steps": steps,
        "median_gain": _median(gain),
        "win_rate": float((gain > 0).double().mean()),
        "worst_gain": float(gain.min()),
        "gain_target": s.gain_target,
        "commit_rate": commits / attempts if attempts else None,
        "mean_commits": float(res.commits.double().mean()),
        "mean_attempts": float(res.attempts.double().mean()),
        "rollbacks_by_check": {k: int(v.sum()) for k, v in sorted(res.rollbacks_by_check.items())},
        # Of the rolled-back writes, the share whose candidate would have predicted the
        # steps up to the next update worse than the weights kept (the rest: false alarms).
        "rollbacks_judged": judged,
        "rollbacks_justified_rate": justified / judged if judged else None,
        # Of the committed writes, the share that predicted those steps worse than the
        # weights before them (harm the checks let through).
        "commits_judged": c_judged,
        "commits_harmful_rate": harmful / c_judged if c_judged else None,
        # What the μ-oracle gains on the same sessions (1 - oracle/baseline): a session
        # whose frozen base is already near the noise floor cannot gain much, whatever learns.
        "oracle_worst_gain": float((1.0 - res.last100("oracle") / res.last100("baseline")).min()),
        "baseline_last100_median": _median(res.last100("baseline")),
        "adaptive_last100_median": _median(a100),
        "oracle_floor_last100_median": _median(res.last100("oracle")),
        "ms_per_step": 1000.0 * statistics.mean(single) / steps if single else None,
        "sweep_session_steps_per_s": sessions * steps / res.seconds,
    }
    if offline:
        key = f"{s.name}|{seeds}|{sessions}"
        fit = cached_offline_best(offline_cache, key, mcfg, base, cfgs, sds, steps, tol=offline_tol)
        ratio = a100 / fit.last100.clamp(min=1e-30)
        off_gain = 1.0 - fit.last100 / res.last100("baseline")
        # The same fit stopped after as many full-batch iterations as the online learner
        # took optimiser steps per session (updates x steps_per_update): how much of the gap
        # is per-step efficiency and how much is compute.
        opt_steps = max(1, round(float(res.attempts.double().mean()) * pcfg.steps_per_update))
        equal = offline_best(
            mcfg, base, cfgs, sds, steps, tol=-1.0, window=opt_steps, max_iters=opt_steps
        )
        row.update(
            offline_equal_steps_iters=opt_steps,
            adaptive_over_offline_equal_steps=_median(a100 / equal.last100.clamp(min=1e-30)),
            offline_best_worst_gain=float(off_gain.min()),
            offline_best_median_gain=_median(off_gain),
            adaptive_over_offline_best=_median(ratio),
            adaptive_over_offline_best_worst=float(ratio.max()),
            offline_best_last100_median=_median(fit.last100),
            offline_iters=fit.iterations,
            offline_final_rel_change=fit.final_rel_change,
            offline_worst_session_rel_change=fit.worst_session_rel_change,
            offline_converged=fit.final_rel_change < fit.tol,
            offline_tol=f"{fit.tol} per {fit.window} iterations",
        )
    else:
        row.update(
            adaptive_over_offline_best=None,
            adaptive_over_offline_equal_steps=None,
            offline_iters=None,
            offline_best_worst_gain=None,
            offline_best_median_gain=None,
        )
    row["targets_met"] = targets_met(row)
    return row


def targets_met(row: dict[str, Any]) -> dict[str, bool | None]:
    """Which of issue 17's targets this row meets (None: not measured)."""
    ratio = row.get("adaptive_over_offline_best")
    out: dict[str, bool | None] = {
        "adaptive_over_offline_best<=2": None if ratio is None else ratio <= 2.0,
        "worst_gain>=0.5": row["worst_gain"] >= TARGETS["worst_gain"],
        "commit_rate>=0.8": (
            None if row["commit_rate"] is None else row["commit_rate"] >= TARGETS["commit_rate"]
        ),
        "win_rate==1": row["win_rate"] == 1.0,
    }
    if row.get("gain_target") is not None:
        out[f"median_gain>={row['gain_target']}"] = row["median_gain"] >= row["gain_target"]
    return out


def bench_nano(
    mcfg: NanoSSMConfig,
    base: dict[str, Tensor],
    *,
    sessions: int = 32,
    steps: int = 600,
    settings: Sequence[Setting] = SETTINGS,
    seed_sets: Sequence[str] = ("tuning", "report"),
    pcfg: PlasticityConfig | None = None,
    single_sessions: int = 2,
    offline: bool = True,
    offline_tol: float = 0.01,
    offline_cache: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    pcfg = pcfg or PlasticityConfig()
    rows = []
    for seeds in seed_sets:
        for idx, s in enumerate(settings):
            row = bench_setting(
                mcfg,
                base,
                s,
                idx,
                seeds=seeds,
                sessions=sessions,
                steps=steps,
                pcfg=pcfg,
                single_sessions=single_sessions,
                offline=offline,
                offline_tol=offline_tol,
                offline_cache=offline_cache,
            )
            if log is not None:
                ratio = row["adaptive_over_offline_best"]
                log(
                    f"[{seeds}] {s.name}: median gain {row['median_gain']:.3f}, worst "
                    f"{row['worst_gain']:.3f}, commit rate {row['commit_rate']:.2f}, "
                    f"adaptive/offline-best {'-' if ratio is None else f'{ratio:.2f}'}"
                )
            rows.append(row)
    return rows


def bench_sweep_throughput(
    mcfg: NanoSSMConfig,
    base: dict[str, Tensor],
    *,
    sessions: int = 256,
    steps: int = 600,
    sample: int = 32,
    pcfg: PlasticityConfig | None = None,
    seed: int = 0,
    repeats: int = 3,
) -> dict[str, Any]:
    """A sessions × steps sweep (timed ``repeats`` times: the median counts, and every
    repeat must give the same numbers), and a random sample of its sessions run one by one,
    interleaved with the repeats so that a drift of the machine's speed hits both."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    pcfg = pcfg or PlasticityConfig()
    s = Setting("sweep", "linear", 0.0, (0.02, 0.25))
    cfgs, seeds = setting_sessions(s, 99, sessions)
    picks = sorted(random.Random(seed).sample(range(sessions), min(sample, sessions)))
    parts = [picks[k::repeats] for k in range(repeats)]  # one-by-one runs after each repeat
    sweep_times: list[float] = []
    repeat_identical = True
    res = None
    times, identical = [], 0
    for part in parts:
        again = run_batch(mcfg, base, cfgs, seeds, steps, pcfg)
        sweep_times.append(again.seconds)
        if res is None:
            res = again
        else:
            repeat_identical &= all(torch.equal(res.mse[k], again.mse[k]) for k in res.mse)
        for i in part:
            sec, mse = _run_alone(mcfg, base, cfgs[i], seeds[i], steps, pcfg)
            times.append(sec)
            identical += int(torch.equal(mse, res.mse["adaptive"][:, i]))
    assert res is not None
    sweep_s = statistics.median(sweep_times)
    mean = statistics.mean(times)
    sd = statistics.stdev(times) if len(times) > 1 else 0.0
    half = 1.96 * sd / math.sqrt(len(times))  # 95% interval of the mean per-session time
    return {
        "setting": f"sweep_{sessions}x{steps}",
        "sessions": sessions,
        "steps": steps,
        "threads": torch.get_num_threads(),
        "seconds": sweep_s,
        "sweep_seconds_each": sweep_times,
        "repeats_identical": repeat_identical,
        "sweep_session_steps_per_s": sessions * steps / sweep_s,
        "one_by_one_sample": len(picks),
        "one_by_one_seconds_per_session": {
            "mean": mean,
            "std": sd,
            "min": min(times),
            "max": max(times),
        },
        "one_by_one_session_steps_per_s": steps / mean,
        "one_by_one_seconds_for_all": mean * sessions,
        "speedup_vs_one_by_one": mean * sessions / sweep_s,
        "speedup_95ci": [
            (mean - half) * sessions / sweep_s,
            (mean + half) * sessions / sweep_s,
        ],
        # The sweep's own run-to-run spread (the interval above covers only the sample's).
        "speedup_range_over_repeats": [
            mean * sessions / max(sweep_times),
            mean * sessions / min(sweep_times),
        ],
        "sampled_sessions_identical": f"{identical}/{len(picks)}",
        "targets_met": {
            "seconds<=10": sweep_s <= 10.0,
            "speedup>=50": mean * sessions / sweep_s >= 50.0,
            "identical": identical == len(picks) and repeat_identical,
        },
    }
