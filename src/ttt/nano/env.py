"""Hidden-μ physics: a batched, seeded, resumable 2-D point-mass environment.

Each session is a point mass in the plane with position ``p`` and velocity ``v``; the action
is an acceleration ``a``. Per step (``f`` = friction coefficient, μ = the session's hidden
friction):

* linear:    ``f = μ``
* nonlinear: ``f = min(0.95, 2μ)`` while the speed ``|v| < 2μ`` (static friction),
  ``f = 0.5μ`` above (dynamic friction); ``|v|`` is the Euclidean speed *before* the step.

then ``v ← (1 − f)·v + a (+ process noise)``, ``p ← p + v`` and the observation is
``[x, y, vx, vy]`` (+ optional Gaussian observation noise). μ is never observed.

The env is batched: ``S`` sessions advance together, each with its own ``EnvConfig`` (mode,
μ, noise levels, schedule) and its own ``torch.Generator``, so session ``i`` of a batch is
bit-identical to the same session run alone. A session is a batch of one. Physics runs in
float64. The whole state (step counter, positions, velocities, held actions, RNG states) is
``NanoEnv.state_dict()``: tensors that go straight into safetensors (or JSON via
``state_to_json``); restoring it continues bit-identically.

Action policy (``policy="hold"``, the default): persistent random accelerations. Every step
a new segment starts with probability ``1 / action_hold``; a segment either coasts
(``a = 0``, probability ``coast_prob``) or holds ``a ~ N(0, action_std² I)``. Why this and
these scales:

* Holding an action builds speed (≈ ``|a|·L`` for a segment of ``L`` steps while ``μL`` is
  small, up to the terminal speed ``|a|/f``), coasting lets friction bleed it off. With the
  default ``action_std = 0.05`` and ``action_hold = 12`` the speed spans ≈ 0.02–1, which
  covers the static/dynamic threshold ``2μ ∈ [0.04, 0.5]`` for μ ∈ [0.02, 0.25]; coasting
  periods are where the nonlinear regime (speed falling through ``2μ``) is exercised.
* The μ signal is ``μ·|v|`` per step: ≈ 0.005–0.05 at typical speeds. An observation noise
  std of 0.01 is therefore of the same order as the per-step effect of μ (meaningful: it
  limits what can be learned from one step) but much smaller than the motion itself (not
  dominant: averaged over a chunk of steps μ is still identifiable).
* ``policy="gaussian"`` draws an independent ``N(0, action_std²)`` action every step.

Random numbers: every step draws exactly 10 standard normals per session from its generator
(2 for the policy switch, 2 for the action, 2 for process noise, 4 for observation noise),
whatever the settings, so the action sequence of a seed does not depend on the noise levels
or the mode: turning noise on changes the observations, not the trajectory of actions.

Seeds: evaluation sessions use seeds ``k < 10_000_000``; pretraining draws its sessions from
``PRETRAIN_SEED_BASE + k`` (see ``ttt.nano.pretrain``), so the two never overlap.

    from ttt.nano.env import EnvConfig, simulate
    obs, actions, mus = simulate([EnvConfig(mu=0.1)], seeds=[0], steps=600)
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import Tensor

from ttt.configs import check_choice, check_float, check_int, from_dict

MODES = ("linear", "nonlinear")
SCHEDULES = ("constant", "drift", "jump")
POLICIES = ("track", "hold", "gaussian")
PRETRAIN_SEED_BASE = 10_000_000  # pretraining sessions: seeds >= this; evaluation: below
MU_TRAIN_RANGE = (0.02, 0.25)  # μ range of pretraining and of the default benchmark
# A drifting μ is kept inside [MU_CLAMP_MIN, MU_CLAMP_MAX].
MU_CLAMP_MIN = 1e-3
MU_CLAMP_MAX = 0.999
N_DRAWS = 12  # standard normals drawn per session per step
DTYPE = torch.float64


def _finite(name: str, value: float, *, lo: float | None = None, hi: float | None = None) -> None:
    check_float(f"EnvConfig.{name}", value, lo=lo, hi=hi)


@dataclass(frozen=True)
class EnvConfig:
    """One session's physics, noise, action policy and μ schedule.

    ``mu`` may lie outside the pretraining range ``MU_TRAIN_RANGE`` but must be in (0, 1).
    Schedules: ``constant`` (μ(t) = mu), ``drift`` (μ(t) = mu + drift_rate·t, clamped to
    [1e-3, 0.999]) and ``jump`` (μ(t) = mu for t < jump_step, jump_to from then on).
    """

    mode: str = "linear"
    mu: float = 0.1
    obs_noise_std: float = 0.0
    process_noise_std: float = 0.0
    policy: str = "track"
    action_hold: float = 12.0
    coast_prob: float = 0.25
    brake_prob: float = 0.15
    target_speed: float = 7.0
    track_gain: float = 0.3
    max_accel: float = 1.5
    action_std: float = 0.05
    schedule: str = "constant"
    drift_rate: float = 0.0
    jump_step: int = 0
    jump_to: float | None = None

    def __post_init__(self) -> None:
        check_choice("EnvConfig.mode", self.mode, MODES)
        check_float("EnvConfig.mu", self.mu, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        _finite("obs_noise_std", self.obs_noise_std, lo=0.0, hi=10.0)
        _finite("process_noise_std", self.process_noise_std, lo=0.0, hi=10.0)
        _finite("action_std", self.action_std, lo=0.0, hi=10.0)
        _finite("action_hold", self.action_hold, lo=1.0, hi=1e6)
        _finite("coast_prob", self.coast_prob, lo=0.0, hi=1.0)
        _finite("brake_prob", self.brake_prob, lo=0.0, hi=1.0)
        if self.coast_prob + self.brake_prob > 1.0:
            raise ValueError(
                f"EnvConfig.brake_prob + coast_prob must be <= 1, got {self.brake_prob!r} + "
                f"{self.coast_prob!r}"
            )
        _finite("target_speed", self.target_speed, lo=0.0, hi=1e3)
        _finite("track_gain", self.track_gain, lo=0.0, hi=1.0)
        check_float("EnvConfig.max_accel", self.max_accel, lo=0.0, lo_open=True, hi=1e3)
        check_choice("EnvConfig.policy", self.policy, POLICIES)
        check_choice("EnvConfig.schedule", self.schedule, SCHEDULES)
        _finite("drift_rate", self.drift_rate, lo=-1.0, hi=1.0)
        if self.schedule == "drift" and self.drift_rate == 0.0:
            raise ValueError("EnvConfig.drift_rate must be non-zero for schedule='drift'")
        check_int("EnvConfig.jump_step", self.jump_step, lo=0, hi=10**12)
        if self.schedule == "jump" and self.jump_to is None:
            raise ValueError("EnvConfig.jump_to is required for schedule='jump'")
        if self.jump_to is not None:
            check_float(
                "EnvConfig.jump_to", self.jump_to, lo=0.0, hi=1.0, lo_open=True, hi_open=True
            )

    def mu_at(self, t: int) -> float:
        """μ at step ``t`` (the μ used for the transition t → t+1)."""
        if self.schedule == "drift":
            return min(MU_CLAMP_MAX, max(MU_CLAMP_MIN, self.mu + self.drift_rate * t))
        if self.schedule == "jump" and t >= self.jump_step:
            assert self.jump_to is not None  # validated in __post_init__
            return self.jump_to
        return self.mu

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EnvConfig:
        return from_dict(cls, d, "EnvConfig")

    def with_mu(self, mu: float) -> EnvConfig:
        return replace(self, mu=mu)


def mu_schedule(cfgs: Sequence[EnvConfig], t: int) -> Tensor:
    """μ of every session at step ``t``: (S,) float64."""
    return torch.tensor([c.mu_at(t) for c in cfgs], dtype=DTYPE)


def friction(vel: Tensor, mu: Tensor, nonlinear: Tensor) -> Tensor:
    """Friction coefficient per session.

    vel: (..., 2); mu: (...) ; nonlinear: (...) bool. Returns (...).
    """
    speed = torch.linalg.vector_norm(vel, dim=-1)  # (...)
    static = torch.clamp(2.0 * mu, max=0.95)
    f_nl = torch.where(speed < 2.0 * mu, static, 0.5 * mu)
    return torch.where(nonlinear, f_nl, mu)


def dynamics(
    pos: Tensor, vel: Tensor, action: Tensor, mu: Tensor, nonlinear: Tensor
) -> tuple[Tensor, Tensor]:
    """Noise-free transition. pos, vel, action: (..., 2); mu, nonlinear: (...)."""
    f = friction(vel, mu, nonlinear).unsqueeze(-1)  # (..., 1)
    new_vel = (1.0 - f) * vel + action  # (..., 2)
    new_pos = pos + new_vel  # (..., 2)
    return new_pos, new_vel


def _nonlinear_mask(mode: str | Tensor, like: Tensor) -> Tensor:
    if isinstance(mode, str):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        return torch.full(like.shape, mode == "nonlinear", dtype=torch.bool)
    return mode.to(torch.bool).expand(like.shape)


def oracle_step(
    obs: Tensor, action: Tensor, mu: float | Tensor, mode: str | Tensor = "linear"
) -> Tensor:
    """The μ-oracle: the true simulator's prediction of the next observation.

    obs: (..., 4) current (possibly noisy) observation; action: (..., 2); mu: float or (...);
    mode: "linear" | "nonlinear" or a (...) bool tensor (True = nonlinear). Returns (..., 4).
    Without noise it reproduces the environment's next observation exactly.
    """
    obs64 = obs.to(DTYPE)
    lead = obs64.shape[:-1]
    mu_t = torch.as_tensor(mu, dtype=DTYPE).expand(lead)
    nl = _nonlinear_mask(mode, mu_t)
    pos, vel = dynamics(obs64[..., :2], obs64[..., 2:], action.to(DTYPE), mu_t, nl)
    return torch.cat([pos, vel], dim=-1)


def _normal_cdf(x: Tensor) -> Tensor:
    return 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


class NanoEnv:
    """S sessions of the point-mass world, each with its own config and generator.

    ``obs`` is the current observation (S, 4). ``step()`` advances every session by one
    transition using the built-in policy (or the given actions) and returns
    ``(next_obs (S, 4), action (S, 2), mu (S,))``.
    """

    def __init__(self, cfgs: EnvConfig | Sequence[EnvConfig], seeds: int | Sequence[int]) -> None:
        cfg_list = [cfgs] if isinstance(cfgs, EnvConfig) else list(cfgs)
        seed_list = [seeds] if isinstance(seeds, int) else [int(s) for s in seeds]
        if len(cfg_list) == 1 and len(seed_list) > 1:
            cfg_list = cfg_list * len(seed_list)
        if not cfg_list or len(cfg_list) != len(seed_list):
            raise ValueError(
                f"NanoEnv needs one config per seed, got {len(cfg_list)} configs and "
                f"{len(seed_list)} seeds"
            )
        for s in seed_list:
            if s < 0:
                raise ValueError(f"NanoEnv seeds must be >= 0, got {s}")
        self.cfgs = cfg_list
        self.seeds = seed_list
        S = len(cfg_list)
        self.nonlinear = torch.tensor([c.mode == "nonlinear" for c in cfg_list])  # (S,)
        self.obs_noise = torch.tensor([c.obs_noise_std for c in cfg_list], dtype=DTYPE)  # (S,)
        self.proc_noise = torch.tensor([c.process_noise_std for c in cfg_list], dtype=DTYPE)
        self.action_std = torch.tensor([c.action_std for c in cfg_list], dtype=DTYPE)  # (S,)
        self.switch_prob = torch.tensor([1.0 / c.action_hold for c in cfg_list], dtype=DTYPE)
        self.coast_prob = torch.tensor([c.coast_prob for c in cfg_list], dtype=DTYPE)
        self.brake_prob = torch.tensor([c.brake_prob for c in cfg_list], dtype=DTYPE)
        self.target_speed = torch.tensor([c.target_speed for c in cfg_list], dtype=DTYPE)
        self.track_gain = torch.tensor([c.track_gain for c in cfg_list], dtype=DTYPE)
        self.max_accel = torch.tensor([c.max_accel for c in cfg_list], dtype=DTYPE)
        self.policy = torch.tensor([POLICIES.index(c.policy) for c in cfg_list])  # (S,)
        self._gens = [torch.Generator().manual_seed(s) for s in seed_list]
        self.t = 0
        self.pos = torch.zeros(S, 2, dtype=DTYPE)
        self.vel = torch.zeros(S, 2, dtype=DTYPE)
        # Policy memory: the held action ("hold") or the target velocity ("track"), and
        # whether the current segment coasts (a = 0).
        self.held = torch.zeros(S, 2, dtype=DTYPE)
        self.coasting = torch.zeros(S, dtype=torch.bool)
        noise = self._draw(4)  # (S, 4): observation noise of the first observation
        self.obs = self._observe(noise)

    @property
    def n_sessions(self) -> int:
        return len(self.cfgs)

    def _draw(self, k: int) -> Tensor:
        return torch.stack([torch.randn(k, generator=g, dtype=DTYPE) for g in self._gens])

    def _observe(self, noise: Tensor) -> Tensor:
        clean = torch.cat([self.pos, self.vel], dim=-1)  # (S, 4)
        return clean + self.obs_noise.unsqueeze(-1) * noise

    def _policy(self, d: Tensor) -> Tensor:
        """The built-in random policy's action from this step's draws d (S, 12)."""
        switch = (_normal_cdf(d[:, 0]) < self.switch_prob) | (self.t == 0)  # (S,)
        kind = _normal_cdf(d[:, 1])  # (S,) uniform: which kind of segment starts
        coast = kind < self.coast_prob  # (S,)
        brake = ~coast & (kind < self.coast_prob + self.brake_prob)  # (S,)
        std = self.action_std.unsqueeze(-1)  # (S, 1)
        # track: a target velocity uniform on the disk of radius target_speed (zero when
        # braking). The norm r of 2 standard normals has P(r < x) = 1 - exp(-x²/2), so
        # sqrt(that) scales the direction d/r to a uniform point on the unit disk.
        r2 = d[:, 2:4].pow(2).sum(-1, keepdim=True)  # (S, 1)
        radius = torch.sqrt(-torch.expm1(-0.5 * r2) / r2.clamp(min=1e-300))  # (S, 1)
        target = d[:, 2:4] * radius * self.target_speed[:, None]  # (S, 2)
        target = torch.where(brake.unsqueeze(-1), 0.0, target)
        proposal = torch.where(self.policy.unsqueeze(-1) == 0, target, d[:, 2:4] * std)
        self.held = torch.where(switch.unsqueeze(-1), proposal, self.held)  # (S, 2)
        self.coasting = torch.where(switch, coast, self.coasting)  # (S,)
        track = self.track_gain.unsqueeze(-1) * (self.held - self.vel) + std * d[:, 4:6]
        norm = torch.linalg.vector_norm(track, dim=-1, keepdim=True)  # (S, 1)
        track = track * torch.clamp(self.max_accel[:, None] / norm.clamp(min=1e-300), max=1.0)
        a = torch.where(self.policy.unsqueeze(-1) == 0, track, self.held)  # (S, 2)
        a = torch.where(self.coasting.unsqueeze(-1), 0.0, a)
        gauss = d[:, 2:4] * std  # (S, 2): "gaussian" ignores segments
        return torch.where(self.policy.unsqueeze(-1) == 2, gauss, a)

    def mu_now(self) -> Tensor:
        """μ used by the next transition: (S,)."""
        return mu_schedule(self.cfgs, self.t)

    def step(self, action: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Advance all sessions by one step. action: optional (S, 2) override of the policy."""
        d = self._draw(N_DRAWS)  # (S, 12)
        a = self._policy(d)  # (S, 2)
        if action is not None:
            if action.shape != (self.n_sessions, 2):
                raise ValueError(f"action must be ({self.n_sessions}, 2), got {action.shape}")
            a = action.to(DTYPE)
        mu = self.mu_now()  # (S,)
        f = friction(self.vel, mu, self.nonlinear).unsqueeze(-1)  # (S, 1)
        # Same float ops as dynamics(); zero process noise adds exactly 0.
        self.vel = (1.0 - f) * self.vel + a + self.proc_noise.unsqueeze(-1) * d[:, 6:8]
        self.pos = self.pos + self.vel
        self.t += 1
        self.obs = self._observe(d[:, 8:12])
        return self.obs, a.clone(), mu

    def rollout(self, steps: int) -> tuple[Tensor, Tensor, Tensor]:
        """``steps`` policy steps: obs (steps+1, S, 4) incl. the current one, actions
        (steps, S, 2), mus (steps, S)."""
        obs = [self.obs]
        acts, mus = [], []
        for _ in range(steps):
            o, a, m = self.step()
            obs.append(o)
            acts.append(a)
            mus.append(m)
        if steps == 0:
            return (
                torch.stack(obs),
                torch.zeros(0, self.n_sessions, 2, dtype=DTYPE),
                torch.zeros(0, self.n_sessions, dtype=DTYPE),
            )
        return torch.stack(obs), torch.stack(acts), torch.stack(mus)

    # -- persistence -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Tensor]:
        """Everything needed to continue bit-identically (safetensors-ready tensors)."""
        return {
            "t": torch.tensor([self.t], dtype=torch.int64),
            "pos": self.pos.clone(),
            "vel": self.vel.clone(),
            "held_action": self.held.clone(),
            "coasting": self.coasting.clone(),
            "obs": self.obs.clone(),
            "rng_state": torch.stack([g.get_state() for g in self._gens]),  # (S, 5056) uint8
        }

    def load_state_dict(self, d: dict[str, Tensor]) -> None:
        S = self.n_sessions
        for k, shape in (
            ("pos", (S, 2)),
            ("vel", (S, 2)),
            ("held_action", (S, 2)),
            ("obs", (S, 4)),
        ):
            if tuple(d[k].shape) != shape:
                raise ValueError(f"env state {k!r} has shape {tuple(d[k].shape)}, want {shape}")
        rng = d["rng_state"]
        if rng.dim() != 2 or rng.shape[0] != S or rng.dtype != torch.uint8:
            raise ValueError(f"env state 'rng_state' must be ({S}, N) uint8, got {rng.shape}")
        self.t = int(d["t"].reshape(-1)[0])
        self.pos = d["pos"].to(DTYPE).clone()
        self.vel = d["vel"].to(DTYPE).clone()
        self.held = d["held_action"].to(DTYPE).clone()
        self.coasting = d["coasting"].to(torch.bool).reshape(S).clone()
        self.obs = d["obs"].to(DTYPE).clone()
        for g, s in zip(self._gens, rng, strict=True):
            g.set_state(s.clone())

    def state_to_json(self) -> dict[str, Any]:
        """The state as JSON-serialisable values (floats are exact via ``float.hex``)."""
        sd = self.state_dict()
        return {
            "t": self.t,
            "pos": [[x.hex() for x in row] for row in sd["pos"].tolist()],
            "vel": [[x.hex() for x in row] for row in sd["vel"].tolist()],
            "held_action": [[x.hex() for x in row] for row in sd["held_action"].tolist()],
            "coasting": [bool(x) for x in sd["coasting"].tolist()],
            "obs": [[x.hex() for x in row] for row in sd["obs"].tolist()],
            "rng_state": [base64.b64encode(bytes(r.tolist())).decode() for r in sd["rng_state"]],
        }

    def load_state_json(self, d: dict[str, Any]) -> None:
        def mat(rows: list[list[str]]) -> Tensor:
            return torch.tensor([[float.fromhex(x) for x in row] for row in rows], dtype=DTYPE)

        rng = torch.stack(
            [
                torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8)
                for s in d["rng_state"]
            ]
        )
        self.load_state_dict(
            {
                "t": torch.tensor([int(d["t"])]),
                "pos": mat(d["pos"]),
                "vel": mat(d["vel"]),
                "held_action": mat(d["held_action"]),
                "coasting": torch.tensor([bool(x) for x in d["coasting"]]),
                "obs": mat(d["obs"]),
                "rng_state": rng,
            }
        )


def simulate(
    cfgs: EnvConfig | Sequence[EnvConfig], seeds: int | Sequence[int], steps: int
) -> tuple[Tensor, Tensor, Tensor]:
    """A whole trajectory: obs (steps+1, S, 4), actions (steps, S, 2), mus (steps, S).

    ``obs[t+1]`` is the observation after applying ``actions[t]`` under ``mus[t]`` to the
    state behind ``obs[t]``.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    return NanoEnv(cfgs, seeds).rollout(steps)
