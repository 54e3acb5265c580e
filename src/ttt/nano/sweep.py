"""Sweeps: many Nano sessions across a μ grid (and env modes) in one vectorised run.

All sessions of a sweep advance together: the environment is batched, the fast weights are
stacked ``(S, rows, cols)`` and stepped by the batched Muon of ``ttt.optim``, and every
transaction runs for all sessions at once with per-session commit/rollback. Session i of a
sweep gives the same result as the same session run alone (tests/nano/test_sweep.py).

    ttt nano sweep --sessions 256 --env-modes linear,nonlinear --steps 600
    ttt nano sweep --sessions 32 --canary-z 6 --spfw halfspace     # with canary rollback + SPFW
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ttt import __version__
from ttt.engine import finite_at
from ttt.nano.base import latest_base_id, load_base, now_iso
from ttt.nano.config import PlasticityConfig, apply_overrides
from ttt.nano.env import EnvConfig
from ttt.nano.model import NanoSSMConfig
from ttt.nano.runner import NanoRunner, canary_in_force
from ttt.procs import pid_alive
from ttt.store import (
    ArtifactStore,
    NotFoundError,
    new_id,
    read_json,
    validate_id,
    write_csv,
    write_json,
)

RESULT_COLUMNS = (
    "session_index",
    "env_mode",
    "mu",
    "noise_std",
    "seed",
    "baseline_last100",
    "adaptive_last100",
    "oracle_last100",
    "gain",
    "commits",
    "attempts",
)
# Extra columns of a sweep run with ``plasticity.canary`` (after RESULT_COLUMNS).
CANARY_RESULT_COLUMNS = (
    "canary_rollbacks",
    "canary_loss_start",
    "canary_loss_end",
    "spfw_fraction_removed_mean",
)


@dataclass
class BatchResult:
    """Per-session results of a batched run."""

    mse: dict[str, Tensor]  # name -> (steps, S)
    commits: Tensor  # (S,)
    attempts: Tensor  # (S,)
    seconds: float
    # With a canary (NaN / 0 otherwise), per session (S,):
    canary_rollbacks: Tensor | None = None  # rollback_canary count
    canary_start: Tensor | None = None  # canary loss before the first update
    canary_end: Tensor | None = None  # canary loss of the weights in force after the last one
    spfw_removed_mean: Tensor | None = None  # mean SPFW fraction_removed over stepped updates
    # Rolled-back or blocked updates per deciding check name ("loss_regression", ...): (S,)
    rollbacks_by_check: dict[str, Tensor] = field(default_factory=dict)
    # With ``judge_updates`` (S,): writes scored on the steps up to the next update
    # against the alternative (``NanoRunner``): rolled back / of them justified, committed /
    # of them harmful.
    rollbacks_judged: Tensor | None = None
    rollbacks_justified: Tensor | None = None
    commits_judged: Tensor | None = None
    commits_harmful: Tensor | None = None

    def last100(self, name: str) -> Tensor:
        return self.mse[name][-100:].double().mean(0)

    def gain(self) -> Tensor:
        return 1.0 - self.last100("adaptive") / self.last100("baseline")


def run_batch(
    mcfg: NanoSSMConfig,
    base_params: dict[str, Tensor],
    env_cfgs: Sequence[EnvConfig],
    seeds: Sequence[int],
    steps: int,
    pcfg: PlasticityConfig | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    judge_updates: bool = False,
) -> BatchResult:
    """Run S sessions for ``steps`` steps in one vectorised loop.

    ``judge_updates``: also score every write on the steps up to the next update against
    the alternative the checks did not choose (``NanoRunner.judge_updates``; the
    sessions' numbers are the same either way)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    pcfg = pcfg or PlasticityConfig()
    runner = NanoRunner.batch(mcfg, base_params, list(env_cfgs), pcfg, list(seeds))
    runner.judge_updates = judge_updates
    s = len(seeds)
    parts: dict[str, list[Tensor]] = {k: [] for k in ("baseline", "adaptive", "frozen", "oracle")}
    commits = torch.zeros(s, dtype=torch.int64)
    attempts = torch.zeros(s, dtype=torch.int64)
    canary_rb = torch.zeros(s, dtype=torch.int64)
    c_start = torch.full((s,), float("nan"), dtype=torch.float64)
    c_end = torch.full((s,), float("nan"), dtype=torch.float64)
    removed_sum = torch.zeros(s, dtype=torch.float64)
    removed_n = torch.zeros(s, dtype=torch.int64)
    by_check: dict[str, Tensor] = {}
    t0 = time.perf_counter()
    done = 0
    while done < steps:
        if cancel is not None and cancel():
            raise KeyboardInterrupt("sweep cancelled")
        n = min(runner.steps_to_boundary(), steps - done)
        out = runner.run_chunk(n, record=False)
        for k in parts:
            parts[k].append(out.mse[k])
        if out.statuses:
            attempts += 1
            done_ok = torch.tensor([st == "commit" for st in out.statuses])
            commits += done_ok.to(torch.int64)
            canary_rb += torch.tensor([st == "rollback_canary" for st in out.statuses])
            for i, name in enumerate(out.fired):
                if name is not None:
                    if name not in by_check:
                        by_check[name] = torch.zeros(s, dtype=torch.int64)
                    by_check[name][i] += 1
        for ev in out.events:
            i = ev["session_index"]
            if ev.get("canary_before") is not None:
                if torch.isnan(c_start[i]):
                    c_start[i] = ev["canary_before"]
                in_force = canary_in_force(ev)
                c_end[i] = float("nan") if in_force is None else in_force
            proj = ev.get("projection")
            if proj and proj.get("fraction_removed") is not None:
                removed_sum[i] += proj["fraction_removed"]
                removed_n[i] += 1
        done += n
        if progress is not None:
            progress(done, steps)
    canary_on = runner.canary is not None
    return BatchResult(
        mse={k: torch.cat(v) for k, v in parts.items()},
        commits=commits,
        attempts=attempts,
        seconds=time.perf_counter() - t0,
        rollbacks_by_check=by_check,
        rollbacks_judged=runner.rollbacks_judged if judge_updates else None,
        rollbacks_justified=runner.rollbacks_justified if judge_updates else None,
        commits_judged=runner.commits_judged if judge_updates else None,
        commits_harmful=runner.commits_harmful if judge_updates else None,
        canary_rollbacks=canary_rb if canary_on else None,
        canary_start=c_start if canary_on else None,
        canary_end=c_end if canary_on else None,
        spfw_removed_mean=(
            torch.where(removed_n > 0, removed_sum / removed_n.clamp(min=1), float("nan"))
            if canary_on
            else None
        ),
    )


def mu_grid(n: int, mu_range: tuple[float, float]) -> list[float]:
    lo, hi = mu_range
    if not 0 < lo <= hi < 1:
        raise ValueError(f"mu_range must satisfy 0 < min <= max < 1, got {mu_range}")
    if n < 1:
        raise ValueError(f"n_sessions must be >= 1, got {n}")
    if n == 1:
        return [lo]
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


MAX_SWEEP_SESSIONS = 100_000


def run_sweep(
    store: ArtifactStore,
    *,
    n_sessions: int = 32,
    mu_range: tuple[float, float] = (0.02, 0.25),
    mus: Sequence[float] | None = None,
    env_modes: Sequence[str] = ("linear",),
    steps: int = 600,
    noise_std: float = 0.0,
    seed: int = 0,
    base_id: str | None = None,
    plasticity_overrides: dict[str, Any] | None = None,
    sweep_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> str:
    """Run a sweep and store it under ``sweeps/<sweep_id>/``. Returns the id.

    Everything is checked before anything is written. The sweep folder appears in one rename
    with ``sweep.json`` (status ``running``, the writer's pid); the results are written
    before ``sweep.json`` says ``completed``, which is the commit point: a sweep killed before
    it reads ``interrupted`` (``sweep_status``) and has no results, and its store stays usable.
    """
    from ttt.nano.persist import new_temp_dir, publish_dir
    from ttt.nano.session import check_steps

    check_steps(steps)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    bid = base_id or latest_base_id(store)
    if bid is None:
        raise NotFoundError("no Nano base in this artifact root: run `ttt nano pretrain` first")
    params, mcfg, _ = load_base(store, bid)
    if mus is not None:
        grid = [float(m) for m in mus]
        if not grid or not all(0.0 < m < 1.0 for m in grid):
            raise ValueError(f"mus must be a non-empty list of values in (0, 1), got {list(mus)}")
    else:
        grid = mu_grid(n_sessions, mu_range)
    if not env_modes:
        raise ValueError("env_modes must name at least one mode")
    if len(grid) * len(env_modes) > MAX_SWEEP_SESSIONS:
        raise ValueError(
            f"a sweep runs at most {MAX_SWEEP_SESSIONS} sessions, got "
            f"{len(grid)} x {len(env_modes)} env modes"
        )
    cfgs: list[EnvConfig] = []
    seeds: list[int] = []
    for mode in env_modes:
        for i, mu in enumerate(grid):
            cfgs.append(EnvConfig(mode=mode, mu=float(mu), obs_noise_std=noise_std))
            seeds.append(seed + i)
    pcfg = PlasticityConfig.from_dict(
        apply_overrides(PlasticityConfig().to_dict(), plasticity_overrides)
    )
    sid = validate_id(sweep_id, what="sweep id") if sweep_id else new_id("sweep")
    config = {
        "sweep_id": sid,
        "base_id": bid,
        "n_sessions": len(cfgs),
        "mus": grid,
        "env_modes": list(env_modes),
        "steps": steps,
        "noise_std": noise_std,
        "seed": seed,
        "plasticity_cfg": pcfg.to_dict(),
        "created_at": now_iso(),
        "status": "running",
        "pid": os.getpid(),
        "package_version": __version__,
        "torch_version": torch.__version__,
    }
    with store.lock("sweeps", sid):
        tmp = new_temp_dir(store, "sweeps", sid)
        write_json(tmp / "sweep.json", config)
        d = publish_dir(store, "sweeps", sid, tmp, label="sweep")
    try:
        res = run_batch(mcfg, params, cfgs, seeds, steps, pcfg, progress=progress, cancel=cancel)
    except BaseException as exc:
        cancelled = isinstance(exc, KeyboardInterrupt)
        config.update(
            status="cancelled" if cancelled else "failed",
            error=None if cancelled else f"{type(exc).__name__}: {exc}",
            finished_at=now_iso(),
        )
        write_json(d / "sweep.json", config)
        raise
    rows = _result_rows(res, cfgs, seeds)
    columns: tuple[str, ...] = RESULT_COLUMNS
    if res.canary_rollbacks is not None:
        columns = RESULT_COLUMNS + CANARY_RESULT_COLUMNS
    write_csv(d / "results.csv", columns, [[r[c] for c in columns] for r in rows])
    write_json(d / "results.json", {"rows": rows})
    config.update(status="completed", seconds=round(res.seconds, 3), finished_at=now_iso())
    write_json(d / "sweep.json", config)  # the commit point
    return sid


def _result_rows(
    res: BatchResult, cfgs: Sequence[EnvConfig], seeds: Sequence[int]
) -> list[dict[str, Any]]:
    b100, a100, o100 = res.last100("baseline"), res.last100("adaptive"), res.last100("oracle")
    gain = res.gain()
    rows = [
        {
            "session_index": i,
            "env_mode": c.mode,
            "mu": c.mu,
            "noise_std": c.obs_noise_std,
            "seed": seeds[i],
            "baseline_last100": finite_at(b100, i),
            "adaptive_last100": finite_at(a100, i),
            "oracle_last100": finite_at(o100, i),
            # None where the baseline error is 0 (nothing to gain: a mass at rest)
            "gain": finite_at(gain, i),
            "commits": int(res.commits[i]),
            "attempts": int(res.attempts[i]),
        }
        for i, c in enumerate(cfgs)
    ]
    if res.canary_rollbacks is not None:
        for i, r in enumerate(rows):
            r["canary_rollbacks"] = int(res.canary_rollbacks[i])
            r["canary_loss_start"] = finite_at(res.canary_start, i)
            r["canary_loss_end"] = finite_at(res.canary_end, i)
            r["spfw_fraction_removed_mean"] = finite_at(res.spfw_removed_mean, i)
    return rows


def sweep_status(cfg: dict[str, Any]) -> str:
    """A sweep's status: ``sweep.json``'s, except ``interrupted`` for a sweep still marked
    running whose process is gone (killed)."""
    status = str(cfg.get("status", "unknown"))
    if status == "running" and "pid" in cfg and not pid_alive(cfg["pid"]):
        return "interrupted"
    return status


def read_sweep(store: ArtifactStore, sweep_id: str) -> dict[str, Any]:
    """``sweep.json`` with its effective ``status`` (see ``sweep_status``)."""
    d = store.item_dir("sweeps", validate_id(sweep_id, what="sweep id"))
    if not (d / "sweep.json").is_file():
        raise NotFoundError(f"sweep {sweep_id!r} not found")
    cfg = read_json(d / "sweep.json")
    cfg["status"] = sweep_status(cfg)
    return cfg


def sweep_rows(store: ArtifactStore, sweep_id: str) -> list[dict[str, Any]]:
    """The result rows of a completed sweep (NotFoundError for any other status)."""
    cfg = read_sweep(store, sweep_id)
    d = store.item_dir("sweeps", validate_id(sweep_id, what="sweep id"))
    if cfg["status"] != "completed" or not (d / "results.json").exists():
        raise NotFoundError(f"sweep {sweep_id!r} has no results (status {cfg['status']})")
    rows: list[dict[str, Any]] = read_json(d / "results.json")["rows"]
    return rows


def write_table(rows: list[dict[str, Any]], path: Path) -> None:
    """Write rows as CSV (``.csv``) or JSON (anything else) to a user-chosen path."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        fieldnames = list(rows[0]) if rows else list(RESULT_COLUMNS)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=fieldnames)
            w.writeheader()
            w.writerows(rows)
    else:
        path.write_text(json.dumps({"rows": rows}, indent=2), encoding="utf-8")
