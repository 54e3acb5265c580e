"""Pretraining of the Nano base: one SSM for the whole μ range, modes and noise levels.

The base is trained on a pool of simulated sessions (μ ~ U(mu_range), env modes and
observation-noise levels mixed), on random windows of ``seq_len`` steps starting from a zero
hidden state. ``torch.optim.Muon`` trains the 2-D matrices (``W_u``, ``B``, ``W_o``) and
AdamW the decays ``a_raw``; both follow a linear warmup and a linear decay to zero. At the
end the plastic matrices are put in a fixed gauge (``model.rebalance_gauge``: same function,
spectral norms of W_u, B, W_o in the ratio ``gauge``), so that the online Muon steps, whose
size is per-matrix spectral, mean the same for every base.
Everything is seeded: the same ``PretrainConfig`` gives bit-identical weights on one machine.

Seed convention: pretraining sessions use env seeds ``PRETRAIN_SEED_BASE + k``
(``10_000_000 + k``), evaluation sessions use ``k < 10_000_000``; the two never meet.

    from ttt.nano.pretrain import PretrainConfig, pretrain
    params, model_cfg, log = pretrain(PretrainConfig(seed=0), NanoSSMConfig())  # ~30 s
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import Tensor

from ttt.nano.env import MODES, MU_TRAIN_RANGE, PRETRAIN_SEED_BASE, EnvConfig, simulate
from ttt.nano.model import (
    NanoSSMConfig,
    forward,
    init_params,
    mse_per_session,
    plastic_names,
    rebalance_gauge,
)

Progress = Callable[[int, int, dict[str, Any]], None]


@dataclass(frozen=True)
class PretrainConfig:
    """Budget, data mixture and optimiser settings of base pretraining."""

    seed: int = 0
    steps: int = 1500
    batch_sessions: int = 64
    seq_len: int = 48
    pool_sessions: int = 384  # simulated sessions the windows are drawn from
    pool_steps: int = 320  # length of each pooled session
    lr: float = 0.02  # Muon lr for W_u, B, W_o
    lr_decay: float = 0.01  # AdamW lr for a_raw
    momentum: float = 0.95
    warmup_steps: int = 50
    mu_range: tuple[float, float] = MU_TRAIN_RANGE
    env_modes: tuple[str, ...] = MODES
    obs_noise_levels: tuple[float, ...] = (0.0, 0.0, 0.005, 0.01, 0.02)
    log_every: int = 50
    # Spectral-norm ratio W_u : B : W_o of the final base (function-preserving); None keeps
    # whatever gauge training ended in. (1, 10, 10) lets online learning move W_u most.
    gauge: tuple[float, float, float] | None = (1.0, 10.0, 10.0)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_sessions", "seq_len", "pool_sessions", "pool_steps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"PretrainConfig.{name} must be an int >= 1, got {v!r}")
        if self.seed < 0:
            raise ValueError(f"PretrainConfig.seed must be >= 0, got {self.seed!r}")
        if self.seq_len >= self.pool_steps:
            raise ValueError(
                f"PretrainConfig.seq_len ({self.seq_len}) must be < pool_steps ({self.pool_steps})"
            )
        for name in ("lr", "lr_decay"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"PretrainConfig.{name} must be > 0, got {v!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"PretrainConfig.momentum must be in [0, 1), got {self.momentum!r}")
        if self.warmup_steps < 0:
            raise ValueError(f"PretrainConfig.warmup_steps must be >= 0, got {self.warmup_steps}")
        lo, hi = self.mu_range
        if not 0 < lo <= hi < 1:
            raise ValueError(f"PretrainConfig.mu_range must satisfy 0 < lo <= hi < 1, got {lo, hi}")
        if not self.env_modes or any(m not in MODES for m in self.env_modes):
            raise ValueError(f"PretrainConfig.env_modes must be a subset of {MODES}")
        if not self.obs_noise_levels or any(
            not (math.isfinite(x) and x >= 0) for x in self.obs_noise_levels
        ):
            raise ValueError(
                f"PretrainConfig.obs_noise_levels must be finite and >= 0, got "
                f"{self.obs_noise_levels!r}"
            )
        if self.log_every < 1:
            raise ValueError(f"PretrainConfig.log_every must be >= 1, got {self.log_every}")
        if self.gauge is not None:
            g = tuple(self.gauge)
            if len(g) != 3 or not all(
                isinstance(x, int | float) and math.isfinite(x) and x > 0 for x in g
            ):
                raise ValueError(
                    f"PretrainConfig.gauge must be None or three finite numbers > 0, "
                    f"got {self.gauge!r}"
                )
            object.__setattr__(self, "gauge", (float(g[0]), float(g[1]), float(g[2])))
        object.__setattr__(self, "mu_range", (float(lo), float(hi)))
        object.__setattr__(self, "env_modes", tuple(self.env_modes))
        object.__setattr__(self, "obs_noise_levels", tuple(float(x) for x in self.obs_noise_levels))

    @classmethod
    def tiny(cls, seed: int = 0) -> PretrainConfig:
        """A budget for tests: well under a few seconds."""
        return cls(
            seed=seed,
            steps=60,
            batch_sessions=16,
            seq_len=24,
            pool_sessions=32,
            pool_steps=64,
            warmup_steps=5,
            log_every=10,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mu_range"] = list(self.mu_range)
        d["env_modes"] = list(self.env_modes)
        d["obs_noise_levels"] = list(self.obs_noise_levels)
        d["gauge"] = None if self.gauge is None else list(self.gauge)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PretrainConfig:
        d = dict(d)
        for k in ("mu_range", "env_modes", "obs_noise_levels", "gauge"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return cls(**d)

    def env_seed(self, k: int) -> int:
        """Env seed of pooled session ``k``: always >= PRETRAIN_SEED_BASE."""
        return PRETRAIN_SEED_BASE + self.seed * self.pool_sessions + k


def session_pool(cfg: PretrainConfig) -> tuple[Tensor, Tensor, list[EnvConfig]]:
    """Simulate the pretraining pool: obs (pool_steps+1, N, 4), actions (pool_steps, N, 2)."""
    g = torch.Generator().manual_seed(cfg.seed)
    n = cfg.pool_sessions
    lo, hi = cfg.mu_range
    mus = lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64)  # (N,)
    mode_idx = torch.randint(len(cfg.env_modes), (n,), generator=g)
    noise_idx = torch.randint(len(cfg.obs_noise_levels), (n,), generator=g)
    env_cfgs = [
        EnvConfig(
            mode=cfg.env_modes[int(mode_idx[i])],
            mu=float(mus[i]),
            obs_noise_std=cfg.obs_noise_levels[int(noise_idx[i])],
        )
        for i in range(n)
    ]
    obs, act, _ = simulate(env_cfgs, [cfg.env_seed(k) for k in range(n)], cfg.pool_steps)
    return obs, act, env_cfgs


def _lr_factor(step: int, cfg: PretrainConfig) -> float:
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    rest = max(1, cfg.steps - cfg.warmup_steps)
    return max(0.0, 1.0 - (step - cfg.warmup_steps) / rest)


def pretrain(
    cfg: PretrainConfig,
    model_cfg: NanoSSMConfig | None = None,
    progress: Progress | None = None,
) -> tuple[dict[str, Tensor], NanoSSMConfig, list[dict[str, Any]]]:
    """Train a base. Returns (params, model_cfg, log); ``progress(step, total, info)`` is
    called after every logged step (and may raise to cancel)."""
    model_cfg = model_cfg or NanoSSMConfig()
    t_start = time.perf_counter()
    obs_pool, act_pool, _ = session_pool(cfg)  # (P+1, N, 4), (P, N, 2)
    params = {
        k: v.clone().requires_grad_(True) for k, v in init_params(model_cfg, cfg.seed).items()
    }
    muon = torch.optim.Muon(
        [params[k] for k in plastic_names],
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=True,
        weight_decay=0.0,
    )
    adamw = torch.optim.AdamW([params["a_raw"]], lr=cfg.lr_decay, weight_decay=0.0)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    n_pool = obs_pool.shape[1]
    offsets = torch.arange(cfg.seq_len + 1)  # (L+1,)
    log: list[dict[str, Any]] = []
    for step in range(cfg.steps):
        f = _lr_factor(step, cfg)
        for group in muon.param_groups:
            group["lr"] = cfg.lr * f
        for group in adamw.param_groups:
            group["lr"] = cfg.lr_decay * f
        sess = torch.randint(n_pool, (cfg.batch_sessions,), generator=g)  # (B,)
        start = torch.randint(
            cfg.pool_steps - cfg.seq_len + 1, (cfg.batch_sessions,), generator=g
        )  # (B,)
        t_idx = start.unsqueeze(0) + offsets.unsqueeze(1)  # (L+1, B)
        obs = obs_pool[t_idx, sess.unsqueeze(0)]  # (L+1, B, 4)
        act = act_pool[t_idx[:-1], sess.unsqueeze(0)]  # (L, B, 2)
        out = forward(params, model_cfg, obs[:-1], act)
        loss = mse_per_session(out, obs).mean()
        muon.zero_grad(set_to_none=True)
        adamw.zero_grad(set_to_none=True)
        loss.backward()
        muon.step()
        adamw.step()
        if (step + 1) % cfg.log_every == 0 or step == cfg.steps - 1:
            rec = {
                "step": step + 1,
                "loss": float(loss.detach()),
                "lr": cfg.lr * f,
                "seconds": round(time.perf_counter() - t_start, 3),
            }
            log.append(rec)
            if progress is not None:
                progress(step + 1, cfg.steps, rec)
    final = {k: v.detach().clone() for k, v in params.items()}
    if cfg.gauge is not None:
        final = rebalance_gauge(final, cfg.gauge)
    return final, model_cfg, log


def tiny_model_config() -> NanoSSMConfig:
    """A smaller model for fast tests."""
    return replace(NanoSSMConfig(), u_dim=8, n_state=8)
