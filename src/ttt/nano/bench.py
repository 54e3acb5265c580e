"""Nano quality and speed benchmark (``ttt bench nano --json``).

For each setting: 32 held-out sessions × 600 steps, seeds disjoint from pretraining, μ drawn
uniformly from the setting's range. Reports, per setting, the median / worst gain
(gain = 1 − adaptive/baseline on the last-100-step MSE), the win rate (adaptive better than
the frozen base), adaptive/offline-best (the same architecture's plastic matrices trained
offline, to convergence, on the session's own first 500 steps at its true μ and evaluated on
the same last 100 steps: the best this architecture reaches), single-session ms/step and
the batched sweep throughput, measured in the same run against running the same sessions
one by one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ttt.nano.config import PlasticityConfig
from ttt.nano.env import EnvConfig, simulate
from ttt.nano.model import NanoSSMConfig, forward, mse_per_step, plastic_names
from ttt.nano.runner import NanoRunner
from ttt.nano.sweep import run_batch

BENCH_SEED_BASE = 5_000_000  # evaluation seeds (< 10M); pretraining uses >= 10M


@dataclass(frozen=True)
class Setting:
    name: str
    env_mode: str
    noise_std: float
    mu_range: tuple[float, float]


SETTINGS: tuple[Setting, ...] = (
    Setting("linear_noise0", "linear", 0.0, (0.02, 0.25)),
    Setting("nonlinear_noise0", "nonlinear", 0.0, (0.02, 0.25)),
    Setting("linear_noise0.01", "linear", 0.01, (0.02, 0.25)),
    Setting("nonlinear_noise0.01", "nonlinear", 0.01, (0.02, 0.25)),
    Setting("linear_mu_out_of_range", "linear", 0.0, (0.30, 0.60)),
)


def setting_sessions(s: Setting, index: int, n: int) -> tuple[list[EnvConfig], list[int]]:
    g = torch.Generator().manual_seed(BENCH_SEED_BASE + 7919 * index)
    lo, hi = s.mu_range
    mus = (lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64)).tolist()
    cfgs = [EnvConfig(mode=s.env_mode, mu=m, obs_noise_std=s.noise_std) for m in mus]
    seeds = [BENCH_SEED_BASE + 1000 * index + i for i in range(n)]
    return cfgs, seeds


def offline_best(
    mcfg: NanoSSMConfig,
    base: dict[str, Tensor],
    cfgs: Sequence[EnvConfig],
    seeds: Sequence[int],
    steps: int,
    *,
    iters: int = 300,
    lr: float = 3e-3,
) -> Tensor:
    """Last-100 MSE of plastic matrices fitted offline on each session's first steps-100.

    Per-session matrices (S, r, c) trained with Adam on full-sequence BPTT from the base
    weights, then evaluated on the last 100 steps with the hidden state carried over.
    """
    obs, act, _ = simulate(list(cfgs), list(seeds), steps)  # (T+1,S,4), (T,S,2)
    s = len(seeds)
    split = steps - 100
    params = {
        n: base[n].unsqueeze(0).repeat(s, 1, 1).clone().requires_grad_(True) for n in plastic_names
    }
    opt = torch.optim.Adam(params.values(), lr=lr)
    for _ in range(iters):
        opt.zero_grad()
        out = forward({**params, "a_raw": base["a_raw"]}, mcfg, obs[:split], act[:split])
        loss = mse_per_step(out, obs[: split + 1]).mean(0)  # (S,)
        loss.sum().backward()
        opt.step()
    with torch.no_grad():
        p = {**{k: v.detach() for k, v in params.items()}, "a_raw": base["a_raw"]}
        out = forward(p, mcfg, obs[:-1], act)
        per = mse_per_step(out, obs)  # (T, S)
    return per[-100:].double().mean(0)


def _time_single(
    mcfg: NanoSSMConfig,
    base: dict[str, Tensor],
    cfgs: Sequence[EnvConfig],
    seeds: Sequence[int],
    steps: int,
    pcfg: PlasticityConfig,
) -> float:
    """Seconds to run the given sessions one by one (unbatched, torch.optim.Muon)."""
    t0 = time.perf_counter()
    for c, sd in zip(cfgs, seeds, strict=True):
        r = NanoRunner.fresh(mcfg, base, c, pcfg, seed=sd)
        while r.t < steps:
            r.run_chunk(min(r.steps_to_boundary(), steps - r.t), record=False)
    return time.perf_counter() - t0


def bench_nano(
    mcfg: NanoSSMConfig,
    base: dict[str, Tensor],
    *,
    sessions: int = 32,
    steps: int = 600,
    settings: Sequence[Setting] = SETTINGS,
    pcfg: PlasticityConfig | None = None,
    single_sessions: int = 2,
    offline: bool = True,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    pcfg = pcfg or PlasticityConfig()
    results = []
    for idx, s in enumerate(settings):
        cfgs, seeds = setting_sessions(s, idx, sessions)
        res = run_batch(mcfg, base, cfgs, seeds, steps, pcfg)
        gain = res.gain()
        a100 = res.last100("adaptive")
        single_s = _time_single(
            mcfg, base, cfgs[:single_sessions], seeds[:single_sessions], steps, pcfg
        )
        row: dict[str, Any] = {
            "setting": s.name,
            "env_mode": s.env_mode,
            "noise_std": s.noise_std,
            "mu_range": list(s.mu_range),
            "sessions": sessions,
            "steps": steps,
            "median_gain": statistics.median(gain.tolist()),
            "win_rate": float((gain > 0).double().mean()),
            "worst_gain": float(gain.min()),
            "mean_commits": float(res.commits.double().mean()),
            "mean_attempts": float(res.attempts.double().mean()),
            "baseline_last100_median": statistics.median(res.last100("baseline").tolist()),
            "adaptive_last100_median": statistics.median(a100.tolist()),
            "oracle_floor_last100_median": statistics.median(res.last100("oracle").tolist()),
            "ms_per_step": 1000.0 * single_s / (single_sessions * steps),
            "sweep_session_steps_per_s": sessions * steps / res.seconds,
            "one_by_one_session_steps_per_s": single_sessions * steps / single_s,
        }
        if offline:
            best = offline_best(mcfg, base, cfgs, seeds, steps)
            row["adaptive_over_oracle"] = statistics.median((a100 / best).tolist())
            row["oracle_kind"] = "offline_best_same_architecture"
        else:
            row["adaptive_over_oracle"] = None
            row["oracle_kind"] = "not_computed"
        if log is not None:
            log(
                f"{s.name}: median gain {row['median_gain']:.3f}, win {row['win_rate']:.2f}, "
                f"worst {row['worst_gain']:.3f}"
            )
        results.append(row)
    return results


def bench_sweep_throughput(
    mcfg: NanoSSMConfig,
    base: dict[str, Tensor],
    *,
    sessions: int = 256,
    steps: int = 600,
    pcfg: PlasticityConfig | None = None,
) -> dict[str, Any]:
    """Wall time of a sessions × steps sweep (batched) vs the per-session reference."""
    pcfg = pcfg or PlasticityConfig()
    s = Setting("sweep", "linear", 0.0, (0.02, 0.25))
    cfgs, seeds = setting_sessions(s, 99, sessions)
    res = run_batch(mcfg, base, cfgs, seeds, steps, pcfg)
    ref_n = 4
    ref_s = _time_single(mcfg, base, cfgs[:ref_n], seeds[:ref_n], steps, pcfg)
    one_by_one_est = ref_s / ref_n * sessions
    return {
        "setting": f"sweep_{sessions}x{steps}",
        "sessions": sessions,
        "steps": steps,
        "seconds": res.seconds,
        "sweep_session_steps_per_s": sessions * steps / res.seconds,
        "one_by_one_seconds_estimated": one_by_one_est,
        "speedup_vs_one_by_one": one_by_one_est / res.seconds,
    }
