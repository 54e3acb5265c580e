"""The update transaction: one guarded write to the fast weights.

    gate -> probe(pre) -> gradient -> pre-checks -> snapshot -> Muon step(s) -> projection
         -> probe(post) -> post-checks -> commit or rollback -> one UpdateEvent per session

Every domain (Nano sessions and sweeps, Sentry, chat) writes through ``UpdateEngine``. The
domain supplies:

* a backend holding the plastic tensors and the optimiser (``ttt.engine.backends``),
* ``loss_fn()``: the per-session training loss ``(S,)`` of the current chunk, differentiable
  w.r.t. the plastic tensors,
* ``probe_fn()``: no-grad measurements ``{name: (S,)}`` taken before and after the step, on
  data the step did not train on (``holdout_loss``), hidden-state size (``max_h``), canaries
  (``canary_loss``)...,
* optionally a gate decision and a projection of the weight change (SPFW).

Rollback restores weights and optimiser state bit-exactly (see backends). Committed gradient
norms feed a per-session history used by relative pre-checks; blocked or rolled-back updates
never enter it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor

from ttt.engine.backends import PlasticBackend
from ttt.engine.checks import (
    BLOCKED_GATE,
    COMMIT,
    ROLLBACK_GRAD_NORM,
    ROLLBACK_LOSS_REGRESSION,
    CheckOutcome,
    ChecksConfig,
    GradHistory,
)


@dataclass
class StepSizeControl:
    """Per-session learning rate that shrinks on a loss-regression rollback, grows on commit.

    Muon's step length does not depend on the gradient's size, so without this a session
    that is already close to its optimum keeps overshooting by a fixed amount. With
    ``backoff = growth = 1`` the lr is constant.
    """

    lr: float = 0.02
    lr_min: float = 1e-5
    lr_max: float = 0.1
    backoff: float = 1.0
    growth: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.lr_min <= self.lr <= self.lr_max:
            raise ValueError(
                f"StepSizeControl needs 0 < lr_min <= lr <= lr_max, got lr_min={self.lr_min}, "
                f"lr={self.lr}, lr_max={self.lr_max}"
            )
        if not 0 < self.backoff <= 1:
            raise ValueError(f"StepSizeControl.backoff must be in (0, 1], got {self.backoff}")
        if self.growth < 1:
            raise ValueError(f"StepSizeControl.growth must be >= 1, got {self.growth}")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def next_lr(self, lr: Tensor, committed: Tensor, regressed: Tensor) -> Tensor:
        grown = (lr * self.growth).clamp(max=self.lr_max)
        shrunk = (lr * self.backoff).clamp(min=self.lr_min)
        return torch.where(committed, grown, torch.where(regressed, shrunk, lr))


class Projection(Protocol):
    """Constrains the weight change of a step (SPFW); returns new weights and stats."""

    def __call__(
        self, before: Mapping[str, Tensor], after: Mapping[str, Tensor], active: Tensor
    ) -> tuple[dict[str, Tensor], list[dict[str, Any] | None]]: ...


@dataclass
class GateDecision:
    """Per-session allow/block from a gate that ran before the transaction."""

    allowed: Tensor  # (S,) bool
    reasons: list[list[str]]  # per session
    scores: list[dict[str, float]] = field(default_factory=list)


def _num(x: Tensor | None, i: int) -> float | None:
    if x is None:
        return None
    v = float(x[i])
    return v if math.isfinite(v) else None


@dataclass
class UpdateEvent:
    """One attempted write (the record stored in ``update_events.json``)."""

    t: int
    index: int
    status: str
    reasons: list[str]
    pre_loss: float | None
    post_loss: float | None
    train_loss: float | None
    grad_norm: float | None
    grad_norm_z: float | None
    pre_max_h: float | None
    post_max_h: float | None
    lr: float
    update_norm: float | None
    checks: list[dict[str, Any]]
    probes_pre: dict[str, float | None] = field(default_factory=dict)
    probes_post: dict[str, float | None] = field(default_factory=dict)
    projection: dict[str, Any] | None = None
    gate: dict[str, Any] | None = None
    duration_ms: float = 0.0

    @property
    def committed(self) -> bool:
        return self.status == COMMIT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TransactionResult:
    events: list[UpdateEvent]
    committed: Tensor  # (S,) bool
    attempted: Tensor  # (S,) bool: sessions that were not blocked by the gate


class UpdateEngine:
    """Runs transactions for the S sessions held by a backend.

    The engine's own state (per-session lr, committed-gradient history, attempt counter) is
    small and serialisable with ``state_dict()`` so that a resumed session continues exactly.
    """

    def __init__(
        self,
        backend: PlasticBackend,
        checks: ChecksConfig,
        *,
        step_size: StepSizeControl | None = None,
        steps_per_update: int = 1,
        loss_key: str = "holdout_loss",
        projection: Projection | None = None,
        history_capacity: int = 64,
    ) -> None:
        if steps_per_update < 1:
            raise ValueError(f"steps_per_update must be >= 1, got {steps_per_update}")
        self.backend = backend
        self.checks = checks
        self.step_size = step_size or StepSizeControl()
        self.steps_per_update = steps_per_update
        self.loss_key = loss_key
        self.projection = projection
        s = backend.n_sessions
        self.lr = torch.full((s,), self.step_size.lr, dtype=torch.float64)
        self.history = GradHistory.empty(s, history_capacity)
        self.attempts = torch.zeros(s, dtype=torch.int64)

    # -- persistence -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Tensor]:
        return {
            "lr": self.lr.clone(),
            "attempts": self.attempts.clone(),
            **{f"history.{k}": v for k, v in self.history.state_dict().items()},
        }

    def load_state_dict(self, d: Mapping[str, Tensor]) -> None:
        self.lr = d["lr"].clone().to(torch.float64)
        self.attempts = d["attempts"].clone().to(torch.int64)
        self.history = GradHistory.from_state_dict(
            {"values": d["history.values"], "count": d["history.count"]}
        )

    # -- the transaction ---------------------------------------------------------------
    def transact(
        self,
        *,
        t: int | Sequence[int],
        loss_fn: Callable[[], Tensor],
        probe_fn: Callable[[], Mapping[str, Tensor]] | None = None,
        gate: GateDecision | None = None,
    ) -> TransactionResult:
        t0 = time.perf_counter()
        s = self.backend.n_sessions
        ts = [int(t)] * s if isinstance(t, int) else [int(x) for x in t]
        allowed = gate.allowed.clone() if gate is not None else torch.ones(s, dtype=torch.bool)

        def probe() -> dict[str, Tensor]:
            if probe_fn is None:
                return {}
            with torch.no_grad():
                return {k: v.detach().double() for k, v in probe_fn().items()}

        pre = probe()

        # Gradient of the chunk loss on the plastic state.
        self.backend.zero_grad()
        loss = loss_fn()
        if loss.shape != (s,):
            raise ValueError(f"loss_fn must return shape ({s},), got {tuple(loss.shape)}")
        loss.sum().backward()
        train_loss = loss.detach().double()
        grad_norm = self.backend.grad_norms()
        finite = torch.isfinite(grad_norm) & torch.isfinite(train_loss)
        signals = {"grad_norm": grad_norm, "train_loss": train_loss}

        pre_out: list[CheckOutcome] = [
            c.evaluate(signals, self.history)  # type: ignore[attr-defined]
            for c in self.checks.pre
        ]
        pre_ok = finite.clone()
        for o in pre_out:
            pre_ok &= o.passed
        active = allowed & pre_ok

        snap = self.backend.snapshot()
        if bool(active.any()):
            for k in range(self.steps_per_update):
                if k > 0:
                    self.backend.zero_grad()
                    loss_fn().sum().backward()
                self.backend.step(self.lr, active)
        proj_stats: list[dict[str, Any] | None] = [None] * s
        if self.projection is not None and bool(active.any()):
            before = self.backend.weights_of(snap)
            after = {n: p.detach().clone() for n, p in self.backend.params.items()}
            projected, proj_stats = self.projection(before, after, active)
            self.backend.set_weights(projected, active)
        self.backend.zero_grad()
        update_norm = self.backend.delta_norms(self.backend.weights_of(snap))

        post = probe() if bool(active.any()) else {}
        post_out: list[CheckOutcome] = []
        post_ok = active.clone()
        if post:
            post_out = [
                c.evaluate(pre, post)  # type: ignore[attr-defined]
                for c in self.checks.post
            ]
            for o in post_out:
                post_ok &= o.passed
        committed = active & post_ok
        self.backend.restore(snap, ~committed)

        regressed = torch.zeros(s, dtype=torch.bool)
        for o in post_out:
            if o.status == ROLLBACK_LOSS_REGRESSION:
                regressed |= active & ~o.passed
        lr_used = self.lr.clone()
        self.lr = self.step_size.next_lr(self.lr, committed, regressed)
        self.history.push(grad_norm, committed)
        self.attempts += 1

        z_out = next((o for o in pre_out if o.name == "grad_norm_robust_z"), None)
        duration_ms = (time.perf_counter() - t0) * 1000.0
        events: list[UpdateEvent] = []
        for i in range(s):
            reasons: list[str] = []
            if not bool(allowed[i]):
                status = BLOCKED_GATE
                reasons = list(gate.reasons[i]) if gate is not None else ["blocked by the gate"]
            elif not bool(finite[i]):
                status = ROLLBACK_GRAD_NORM
                reasons = [
                    f"non-finite training loss or gradient (loss={float(train_loss[i])}, "
                    f"grad_norm={float(grad_norm[i])})"
                ]
            elif not bool(pre_ok[i]):
                failed = [o for o in pre_out if not bool(o.passed[i])]
                status = failed[0].status
                reasons = [r for o in failed if (r := o.reasons[i])]
            elif not bool(committed[i]):
                failed = [o for o in post_out if not bool(o.passed[i])]
                status = failed[0].status
                reasons = [r for o in failed if (r := o.reasons[i])]
            else:
                status = COMMIT
            did_step = bool(active[i])
            pre_loss = _num(pre.get(self.loss_key), i)
            if pre_loss is None and self.loss_key not in pre:
                pre_loss = _num(train_loss, i)
            events.append(
                UpdateEvent(
                    t=ts[i],
                    index=int(self.attempts[i]) - 1,
                    status=status,
                    reasons=reasons,
                    pre_loss=pre_loss,
                    post_loss=_num(post.get(self.loss_key), i) if did_step else None,
                    train_loss=_num(train_loss, i),
                    grad_norm=_num(grad_norm, i),
                    grad_norm_z=_num(z_out.score if z_out is not None else None, i),
                    pre_max_h=_num(pre.get("max_h"), i),
                    post_max_h=_num(post.get("max_h"), i) if did_step else None,
                    lr=float(lr_used[i]),
                    update_norm=_num(update_norm, i) if did_step else None,
                    checks=[o.record(i) for o in pre_out]
                    + ([o.record(i) for o in post_out] if did_step else []),
                    probes_pre={k: _num(v, i) for k, v in pre.items()},
                    probes_post={k: _num(v, i) for k, v in post.items()} if did_step else {},
                    projection=proj_stats[i] if did_step else None,
                    gate=(
                        {
                            "allowed": bool(allowed[i]),
                            "reasons": list(gate.reasons[i]),
                            "scores": gate.scores[i] if gate.scores else {},
                        }
                        if gate is not None
                        else None
                    ),
                    duration_ms=duration_ms,
                )
            )
        return TransactionResult(events=events, committed=committed, attempted=allowed)
