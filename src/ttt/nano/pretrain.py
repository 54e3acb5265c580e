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

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import Tensor

from ttt.configs import check_choice, check_float, check_int
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
        w = "PretrainConfig"
        check_int(f"{w}.seed", self.seed, lo=0, hi=2**31 - 1)
        check_int(f"{w}.steps", self.steps, lo=1, hi=10_000_000)
        check_int(f"{w}.batch_sessions", self.batch_sessions, lo=1, hi=100_000)
        check_int(f"{w}.seq_len", self.seq_len, lo=1, hi=100_000)
        check_int(f"{w}.pool_sessions", self.pool_sessions, lo=1, hi=1_000_000)
        check_int(f"{w}.pool_steps", self.pool_steps, lo=2, hi=1_000_000)
        if self.seq_len >= self.pool_steps:
            raise ValueError(
                f"{w}.seq_len ({self.seq_len}) must be < pool_steps ({self.pool_steps})"
            )
        check_float(f"{w}.lr", self.lr, lo=0.0, lo_open=True, hi=10.0)
        check_float(f"{w}.lr_decay", self.lr_decay, lo=0.0, lo_open=True, hi=10.0)
        check_float(f"{w}.momentum", self.momentum, lo=0.0, hi=1.0, hi_open=True)
        check_int(f"{w}.warmup_steps", self.warmup_steps, lo=0, hi=self.steps)
        check_int(f"{w}.log_every", self.log_every, lo=1, hi=10_000_000)
        if not isinstance(self.mu_range, list | tuple) or len(self.mu_range) != 2:
            raise ValueError(f"{w}.mu_range must be [lo, hi], got {self.mu_range!r}")
        lo, hi = self.mu_range
        check_float(f"{w}.mu_range[0]", lo, lo=0.0, lo_open=True, hi=1.0, hi_open=True)
        check_float(f"{w}.mu_range[1]", hi, lo=lo, hi=1.0, hi_open=True)
        if not isinstance(self.env_modes, list | tuple) or not self.env_modes:
            raise ValueError(f"{w}.env_modes must be a non-empty list, got {self.env_modes!r}")
        for m in self.env_modes:
            check_choice(f"{w}.env_modes", m, MODES)
        if not isinstance(self.obs_noise_levels, list | tuple) or not self.obs_noise_levels:
            raise ValueError(
                f"{w}.obs_noise_levels must be a non-empty list, got {self.obs_noise_levels!r}"
            )
        for x in self.obs_noise_levels:
            check_float(f"{w}.obs_noise_levels", x, lo=0.0, hi=10.0)
        if self.gauge is not None:
            g = tuple(self.gauge) if isinstance(self.gauge, list | tuple) else ()
            if len(g) != 3:
                raise ValueError(f"{w}.gauge must be None or three numbers > 0, got {self.gauge!r}")
            for x in g:
                check_float(f"{w}.gauge", x, lo=0.0, lo_open=True, hi=1e6)
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
