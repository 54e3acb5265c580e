"""Configs of a Nano session: how the fast weights learn (``PlasticityConfig``).

Every field is validated in ``__post_init__`` (ValueError naming the field) and can be set
from the CLI or the API as an override; the effective config of each run is recorded in its
``run.json``.

Safety options (all off by default, so default sessions behave exactly as before):

* ``canary``: fixed reference trajectories (``NanoCanaryConfig``) whose loss under the
  current fast weights is probed before and after every update (``canary_loss``,
  ``canary_loss.0`` ...) and, with ``grad_alignment``, whose gradients give the directional
  signal;
* canary rollback: add ``{"kind": "canary_delta", ...}`` and/or
  ``{"kind": "canary_robust_z", ...}`` to ``checks.post`` (needs ``canary``);
* ``spfw``: project every write so that no canary's loss rises to first order
  (``ttt.safety.spfw.SpfwConfig``; needs ``canary``).

    --set 'canary={}' --set 'spfw={"mode": "halfspace"}'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ttt.configs import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    deep_merge,
    from_dict,
)
from ttt.engine import CanaryGradsFn, ChecksConfig, Projection, StepSizeControl, UpdateEngine
from ttt.engine.backends import PlasticBackend
from ttt.nano.env import MODES, MU_TRAIN_RANGE
from ttt.optim import MuonConfig
from ttt.safety.spfw import SpfwConfig

# What Nano supports of the safety layer (rendered by ``python -m ttt.safety.coverage``).
SAFETY_SUPPORT: dict[str, bool | str] = {
    "update_transaction": "yes: one engine transaction per chunk, sessions and batched sweeps",
    "gate": "n/a (physics input)",
    "canary_rollback": "yes: reference-μ trajectories, absolute delta and robust z",
    "grad_alignment": "yes: grad norm, canary cos/dot (pre-check canary_alignment_min)",
    "spfw": "yes: half-space or null-space projection of the weight change",
}
CANARY_CHECK_KINDS = ("canary_delta", "canary_robust_z", "canary_alignment_min")
# What Nano's transaction measures before and after every step (post-check ``key`` values),
# and the gradient signals its pre-checks can read.
NANO_PROBES = ("holdout_loss", "train_loss_probe", "max_h")
NANO_PRE_SIGNALS = ("canary_cos_min", "canary_dot_min")
CHUNK_LIMIT = 4096
WINDOW_LIMIT = 65_536  # steps in the training window (buffer_chunks x chunk)
SEED_LIMIT = 2**31 - 1


def _default_checks() -> dict[str, Any]:
    return {
        # No gradient-norm pre-check by default. Nano's gradient norms follow the speed regime
        # of the data (a mass at rest vs. one coasting at speed 4 differ by ~1000x), so
        # neither a fixed limit (the original design rolled back 123 of 144 updates) nor one
        # relative to the committed history works: a session whose first 8 commits came
        # from a quiet stretch then judged every later gradient at robust z ~ 400, rolled
        # back all 29 remaining updates and ended 4.6x worse than the frozen base. Committed
        # history only grows on commits, so that lock-out is permanent. Non-finite losses
        # and gradients are still refused by the engine, and every write must pass the
        # held-out check below. (Add a pre-check through ``checks`` when needed.)
        "pre": [],
        "post": [
            # Held-out steps of the chunk that the step did not train on.
            {"kind": "loss_regression", "tol": 0.01, "abs_tol": 0.0, "key": "holdout_loss"},
            {"kind": "state_norm_max", "max_abs": 1e6, "key": "max_h"},
        ],
    }


@dataclass
class NanoCanaryConfig:
    """Nano's canary: ``n`` fixed reference trajectories of ``steps`` steps.

    They are generated from each session's own env config (policy, noise, mode unless
    ``env_mode`` is set) with a *reference* μ (default: the middle of the base's pretraining
    range, i.e. physics the base already knows), a constant schedule and fixed seeds
    ``seed + i`` — so they never depend on the session's μ, its seed or its progress, and are
    rebuilt identically on resume. The canary loss of a session is the prequential MSE of
    its current fast weights on these trajectories (hidden state from zero). A session whose
    own μ equals the reference μ probes its own physics; pick ``mu`` accordingly.
    """

    n: int = 3
    steps: int = 48
    mu: float = round((MU_TRAIN_RANGE[0] + MU_TRAIN_RANGE[1]) / 2, 6)
    env_mode: str | None = None
    seed: int = 0
    grad_alignment: bool = True

    def __post_init__(self) -> None:
        check_int("plasticity.canary.n", self.n, lo=1, hi=16)
        check_int("plasticity.canary.steps", self.steps, lo=2, hi=10_000)
        check_float("plasticity.canary.mu", self.mu, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        if self.env_mode is not None:
            check_choice("plasticity.canary.env_mode", self.env_mode, MODES)
        check_int("plasticity.canary.seed", self.seed, lo=0, hi=SEED_LIMIT)
        check_bool("plasticity.canary.grad_alignment", self.grad_alignment)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PlasticityConfig:
    """Online learning of W_u, B, W_o: Muon + held-out check + step-size control."""

    # Chosen on the tuning seeds (benchmarks/tune_nano.py; README "Nano benchmark"): a fast
    # backoff after a held-out regression and a slow growth keep ~80% of the writes, and 3
    # Newton-Schulz iterations (Muon's default is 5) keep some of the gradient's spectrum,
    # which lets the steps shrink where the gradient does.
    lr: float = 0.02
    lr_min: float = 1e-5
    lr_max: float = 0.05
    backoff: float = 0.3
    growth: float = 1.1
    momentum: float = 0.9
    nesterov: bool = True
    ns_steps: int = 3
    weight_decay: float = 0.0
    chunk: int = 16
    holdout_every: int = 4
    buffer_chunks: int = 16
    steps_per_update: int = 6
    # Stop a write's optimiser steps at the first one that raises the training loss (and
    # undo it); the first step is always kept.
    stop_on_train_rise: bool = False
    checks: dict[str, Any] = field(default_factory=_default_checks)
    canary: dict[str, Any] | None = None
    spfw: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        check_int("plasticity.chunk", self.chunk, lo=2, hi=CHUNK_LIMIT)
        check_int("plasticity.holdout_every", self.holdout_every, lo=2, hi=CHUNK_LIMIT)
        if self.holdout_every > self.chunk:
            raise ValueError(
                f"plasticity.holdout_every must be in [2, chunk={self.chunk}] (a chunk needs at "
                f"least one held-out step), got {self.holdout_every!r}"
            )
        check_int("plasticity.buffer_chunks", self.buffer_chunks, lo=1, hi=1024)
        if self.buffer_chunks * self.chunk > WINDOW_LIMIT:
            raise ValueError(
                f"plasticity.buffer_chunks x chunk = {self.buffer_chunks} x {self.chunk} steps "
                f"exceeds the training-window limit {WINDOW_LIMIT}"
            )
        check_int("plasticity.steps_per_update", self.steps_per_update, lo=1, hi=100)
        check_bool("plasticity.stop_on_train_rise", self.stop_on_train_rise)
        for name in ("lr", "lr_min", "lr_max", "backoff", "growth"):
            check_float(f"plasticity.{name}", getattr(self, name))
        check_float("plasticity.momentum", self.momentum, lo=0.0, hi=1.0, hi_open=True)
        check_bool("plasticity.nesterov", self.nesterov)
        check_int("plasticity.ns_steps", self.ns_steps, lo=1, hi=99)
        check_float("plasticity.weight_decay", self.weight_decay, lo=0.0, hi=1.0, hi_open=True)
        for name in ("checks", "canary", "spfw"):
            v = getattr(self, name)
            if not (v is None and name != "checks") and not isinstance(v, Mapping):
                raise ValueError(f"plasticity.{name} must be an object, got {v!r}")
        # Validate the nested configs by building them once (their messages name the field).
        try:
            self.muon()
            self.step_size()
            checks = self.checks_config()
        except ValueError as exc:
            raise ValueError(f"plasticity: {exc}") from exc
        self.canary_config()
        self.spfw_config()
        if self.canary is None:
            used = [c.kind for c in (*checks.pre, *checks.post) if c.kind in CANARY_CHECK_KINDS]
            if used:
                raise ValueError(
                    f"plasticity.checks use {', '.join(used)} but plasticity.canary is off "
                    "(set canary={} to probe the canary)"
                )
            if self.spfw is not None:
                raise ValueError("plasticity.spfw needs plasticity.canary (set canary={})")
        probes = set(NANO_PROBES)
        if self.canary is not None:
            probes.add("canary_loss")
        for c in checks.post:
            key = getattr(c, "key", None)
            if key is not None and key not in probes:
                raise ValueError(
                    f"plasticity.checks: {c.kind}.key={key!r} is not a Nano probe "
                    f"(known: {', '.join(sorted(probes))})"
                )
        for c in checks.pre:
            key = getattr(c, "key", None)
            if key is not None and key not in NANO_PRE_SIGNALS:
                raise ValueError(
                    f"plasticity.checks: {c.kind}.key={key!r} is not a Nano signal "
                    f"(known: {', '.join(NANO_PRE_SIGNALS)})"
                )

    def muon(self) -> MuonConfig:
        return MuonConfig(
            lr=self.lr,
            momentum=self.momentum,
            nesterov=self.nesterov,
            ns_steps=self.ns_steps,
            weight_decay=self.weight_decay,
        )

    def step_size(self) -> StepSizeControl:
        return StepSizeControl(
            lr=self.lr,
            lr_min=self.lr_min,
            lr_max=self.lr_max,
            backoff=self.backoff,
            growth=self.growth,
        )

    def checks_config(self) -> ChecksConfig:
        return ChecksConfig.from_dict(self.checks)

    def canary_config(self) -> NanoCanaryConfig | None:
        if self.canary is None:
            return None
        return from_dict(NanoCanaryConfig, self.canary, "plasticity.canary")

    def spfw_config(self) -> SpfwConfig | None:
        if self.spfw is None:
            return None
        return from_dict(SpfwConfig, self.spfw, "plasticity.spfw")

    def engine(
        self,
        backend: PlasticBackend,
        *,
        projection: Projection | None = None,
        canary_grads_fn: CanaryGradsFn | None = None,
    ) -> UpdateEngine:
        return UpdateEngine(
            backend,
            self.checks_config(),
            step_size=self.step_size(),
            steps_per_update=self.steps_per_update,
            loss_key="holdout_loss",
            projection=projection,
            canary_grads_fn=canary_grads_fn,
            stop_on_train_rise=self.stop_on_train_rise,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PlasticityConfig:
        return from_dict(cls, d, "plasticity")


def safety_overrides(
    checks: Mapping[str, Any],
    *,
    canary: bool = False,
    canary_max_delta: float | None = None,
    canary_z: float | None = None,
    spfw: str | None = None,
) -> dict[str, Any]:
    """Plasticity overrides that switch on Nano's canary, canary rollback and SPFW.

    ``checks``: the checks dict to extend (the defaults or a session's). Canary rollback and
    SPFW imply the canary probe. Returns {} when nothing is switched on.
    """
    out: dict[str, Any] = {}
    post = [dict(c) for c in checks.get("post", []) if c.get("kind") not in CANARY_CHECK_KINDS]
    if canary_max_delta is not None:
        post.append({"kind": "canary_delta", "max_delta": canary_max_delta})
    if canary_z is not None:
        post.append({"kind": "canary_robust_z", "z_max": canary_z})
    if canary_max_delta is not None or canary_z is not None:
        out["checks"] = {"pre": list(checks.get("pre", [])), "post": post}
    if spfw is not None:
        out["spfw"] = {"mode": spfw}
    if canary or out:
        out["canary"] = {}
    return out


def apply_overrides(base: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Overrides merged into a config dict: nested objects merge key by key (so overriding
    ``checks.pre`` keeps ``checks.post``), other values replace; None values are ignored."""
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ValueError(f"overrides must be an object, got {overrides!r}")
    return deep_merge(base, overrides)
