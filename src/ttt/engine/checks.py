"""Composable, vectorised safety checks for the update transaction.

A check has a ``name``, a configurable threshold, the rollback ``status`` it produces when it
fails, and explains itself in plain English with the actual numbers. Checks are vectorised
over sessions: every value is a tensor of shape ``(S,)`` so a sweep of 256 Nano sessions and
a single chat session run the same code.

Pre-checks look at the gradient before the step; post-checks compare probes taken before and
after the step on data the step did not train on (held-out steps, canaries).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

# Rollback statuses (seed names kept where they exist).
COMMIT = "commit"
ROLLBACK_GRAD_NORM = "rollback_grad_norm"
ROLLBACK_LOSS_REGRESSION = "rollback_loss_regression"
ROLLBACK_STATE_NORM = "rollback_state_norm"
ROLLBACK_CANARY = "rollback_canary"
BLOCKED_GATE = "blocked_gate"
STATUSES = (
    COMMIT,
    ROLLBACK_GRAD_NORM,
    ROLLBACK_LOSS_REGRESSION,
    ROLLBACK_STATE_NORM,
    ROLLBACK_CANARY,
    BLOCKED_GATE,
)


def _fmt(x: float) -> str:
    if x is None or not math.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e4):
        return f"{x:.3e}"
    return f"{x:.4g}"


@dataclass
class CheckOutcome:
    """Result of one check over S sessions."""

    name: str
    status: str  # status used when this check fails
    passed: Tensor  # (S,) bool
    value: Tensor  # (S,) float, NaN where not applicable
    threshold: Tensor  # (S,) float, the effective threshold (NaN where not applicable)
    reasons: list[str | None]  # per session: plain-English reason when failed, else None
    # (S,) the statistic behind a relative check (robust z), NaN where not applicable; value
    # and threshold stay in the checked quantity's own units so they can be compared.
    score: Tensor | None = None

    def record(self, i: int) -> dict[str, Any]:
        v = float(self.value[i])
        th = float(self.threshold[i])
        rec: dict[str, Any] = {
            "name": self.name,
            "passed": bool(self.passed[i]),
            "value": v if math.isfinite(v) else None,
            "threshold": th if math.isfinite(th) else None,
            "reason": self.reasons[i],
        }
        if self.score is not None:
            sc = float(self.score[i])
            rec["score"] = sc if math.isfinite(sc) else None
        return rec


@dataclass
class GradHistory:
    """Per-session ring buffer of gradient norms of *committed* updates only.

    Blocked or rolled-back updates never enter, so an attacker cannot drag the baseline that
    judges the next update. Tensors so that it can be saved with safetensors and batched.
    """

    values: Tensor  # (S, H)
    count: Tensor  # (S,) int64, number of valid entries (<= H)

    @classmethod
    def empty(cls, n_sessions: int, capacity: int = 64) -> GradHistory:
        return cls(
            values=torch.full((n_sessions, capacity), float("nan"), dtype=torch.float64),
            count=torch.zeros(n_sessions, dtype=torch.int64),
        )

    def push(self, norms: Tensor, mask: Tensor) -> None:
        """Append norms[i] for sessions where mask[i] (shift left, newest last)."""
        if not bool(mask.any()):
            return
        shifted = torch.roll(self.values, shifts=-1, dims=1)
        shifted[:, -1] = norms.to(torch.float64)
        self.values = torch.where(mask.view(-1, 1), shifted, self.values)
        cap = self.values.shape[1]
        self.count = torch.where(mask, (self.count + 1).clamp(max=cap), self.count)

    def median_mad(self) -> tuple[Tensor, Tensor]:
        """Per-session median and MAD over valid entries (NaN where empty)."""
        v = self.values  # NaN marks unused slots
        med = torch.nanmedian(v, dim=1).values
        mad = torch.nanmedian((v - med.view(-1, 1)).abs(), dim=1).values
        return med, mad

    def state_dict(self) -> dict[str, Tensor]:
        return {"values": self.values.clone(), "count": self.count.clone()}

    @classmethod
    def from_state_dict(cls, d: Mapping[str, Tensor]) -> GradHistory:
        return cls(values=d["values"].clone(), count=d["count"].clone())

    def select(self, idx: int) -> GradHistory:
        return GradHistory(self.values[idx : idx + 1].clone(), self.count[idx : idx + 1].clone())


class Check:
    """Base class: subclasses are small dataclasses with a threshold and a ``kind``."""

    kind: ClassVar[str] = "check"
    stage: ClassVar[str] = "post"  # "pre" (gradient) or "post" (after the step)
    status: ClassVar[str] = ROLLBACK_LOSS_REGRESSION

    @property
    def name(self) -> str:
        return self.kind

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)  # type: ignore[call-overload]
        d["kind"] = self.kind
        return d


@dataclass
class GradNormMax(Check):
    """Absolute limit on the gradient norm (write pressure)."""

    max_norm: float = 20.0
    kind: ClassVar[str] = "grad_norm_max"
    stage: ClassVar[str] = "pre"
    status: ClassVar[str] = ROLLBACK_GRAD_NORM

    def evaluate(self, signals: Mapping[str, Tensor], history: GradHistory) -> CheckOutcome:
        g = signals["grad_norm"].double()
        th = torch.full_like(g, self.max_norm)
        passed = g <= th
        reasons = [
            None
            if bool(passed[i])
            else f"grad_norm ({_fmt(float(g[i]))}) exceeded the absolute limit "
            f"grad_norm_max = {_fmt(self.max_norm)}"
            for i in range(len(g))
        ]
        return CheckOutcome(self.name, self.status, passed, g, th, reasons)


@dataclass
class GradNormRobustZ(Check):
    """Gradient norm judged against the session's own history of committed updates.

    z = (g - median) / (1.4826 * MAD), with the MAD floored at ``rel_floor * median`` (and
    ``abs_floor``) so a flat history never divides by zero. Only applies once
    ``min_history`` committed updates exist; before that the check passes and says so.
    """

    z_max: float = 8.0
    min_history: int = 8
    rel_floor: float = 0.05
    abs_floor: float = 1e-12
    kind: ClassVar[str] = "grad_norm_robust_z"
    stage: ClassVar[str] = "pre"
    status: ClassVar[str] = ROLLBACK_GRAD_NORM

    def evaluate(self, signals: Mapping[str, Tensor], history: GradHistory) -> CheckOutcome:
        g = signals["grad_norm"].double()
        med, mad = history.median_mad()
        scale = torch.maximum(1.4826 * mad, self.rel_floor * med.abs())
        scale = scale.clamp(min=self.abs_floor)
        z = (g - med) / scale
        enough = history.count >= self.min_history
        th = torch.where(enough, med + self.z_max * scale, torch.full_like(g, math.inf))
        passed = ~enough | (z <= self.z_max)
        score = torch.where(enough, z, torch.full_like(g, math.nan))
        reasons = [
            None
            if bool(passed[i])
            else f"grad_norm ({_fmt(float(g[i]))}) is {_fmt(float(z[i]))} robust z above this "
            f"session's committed median {_fmt(float(med[i]))} (limit z = {_fmt(self.z_max)}, "
            f"i.e. grad_norm <= {_fmt(float(th[i]))})"
            for i in range(len(g))
        ]
        return CheckOutcome(self.name, self.status, passed, g, th, reasons, score=score)


@dataclass
class GradNormMedianMultiple(Check):
    """Gradient norm must stay below ``k`` times the running median of committed updates."""

    k: float = 10.0
    min_history: int = 8
    kind: ClassVar[str] = "grad_norm_median_multiple"
    stage: ClassVar[str] = "pre"
    status: ClassVar[str] = ROLLBACK_GRAD_NORM

    def evaluate(self, signals: Mapping[str, Tensor], history: GradHistory) -> CheckOutcome:
        g = signals["grad_norm"].double()
        med, _ = history.median_mad()
        enough = history.count >= self.min_history
        th = torch.where(enough, self.k * med, torch.full_like(g, math.inf))
        passed = ~enough | (g <= th)
        reasons = [
            None
            if bool(passed[i])
            else f"grad_norm ({_fmt(float(g[i]))}) exceeded {_fmt(self.k)} x the committed "
            f"median {_fmt(float(med[i]))} = {_fmt(float(th[i]))}"
            for i in range(len(g))
        ]
        return CheckOutcome(self.name, self.status, passed, g, th, reasons)


@dataclass
class LossRegression(Check):
    """Held-out loss after the step must not exceed the loss before by more than ``tol``.

    ``key`` names the probe (by default ``holdout_loss``: steps of the chunk that the update
    did not train on). Fails when post > pre * (1 + tol) + abs_tol.
    """

    tol: float = 0.0
    abs_tol: float = 0.0
    key: str = "holdout_loss"
    kind: ClassVar[str] = "loss_regression"
    stage: ClassVar[str] = "post"
    status: ClassVar[str] = ROLLBACK_LOSS_REGRESSION

    def evaluate(self, pre: Mapping[str, Tensor], post: Mapping[str, Tensor]) -> CheckOutcome:
        a = pre[self.key].double()
        b = post[self.key].double()
        th = a * (1 + self.tol) + self.abs_tol
        passed = b <= th
        reasons = [
            None
            if bool(passed[i])
            else f"post_loss {_fmt(float(b[i]))} exceeded pre_loss {_fmt(float(a[i]))} "
            f"x{_fmt(1 + self.tol)}"
            + (f" + {_fmt(self.abs_tol)}" if self.abs_tol else "")
            + f" = {_fmt(float(th[i]))} ({self.key}, data the step did not train on)"
            for i in range(len(a))
        ]
        return CheckOutcome(self.name, self.status, passed, b, th, reasons)


@dataclass
class StateNormMax(Check):
    """The largest |h| of the hidden state after the step must stay below ``max_abs``."""

    max_abs: float = 1e6
    key: str = "max_h"
    kind: ClassVar[str] = "state_norm_max"
    stage: ClassVar[str] = "post"
    status: ClassVar[str] = ROLLBACK_STATE_NORM

    def evaluate(self, pre: Mapping[str, Tensor], post: Mapping[str, Tensor]) -> CheckOutcome:
        h = post[self.key].double()
        th = torch.full_like(h, self.max_abs)
        passed = h <= th
        reasons = [
            None
            if bool(passed[i])
            else f"max |h| after the step ({_fmt(float(h[i]))}) exceeded "
            f"state_norm_max = {_fmt(self.max_abs)}"
            for i in range(len(h))
        ]
        return CheckOutcome(self.name, self.status, passed, h, th, reasons)


@dataclass
class CanaryDelta(Check):
    """Canary loss may rise by at most ``max_delta`` (absolute) after the step."""

    max_delta: float = 0.05
    key: str = "canary_loss"
    kind: ClassVar[str] = "canary_delta"
    stage: ClassVar[str] = "post"
    status: ClassVar[str] = ROLLBACK_CANARY

    def evaluate(self, pre: Mapping[str, Tensor], post: Mapping[str, Tensor]) -> CheckOutcome:
        a = pre[self.key].double()
        b = post[self.key].double()
        delta = b - a
        th = torch.full_like(delta, self.max_delta)
        passed = delta <= th
        reasons = [
            None
            if bool(passed[i])
            else f"canary loss rose by {_fmt(float(delta[i]))} ({_fmt(float(a[i]))} -> "
            f"{_fmt(float(b[i]))}), above the limit {_fmt(self.max_delta)}"
            for i in range(len(a))
        ]
        return CheckOutcome(self.name, self.status, passed, delta, th, reasons)


@dataclass
class ChecksConfig:
    """The checks of one session, serialisable to JSON (``plasticity_cfg.checks``)."""

    pre: list[Check] = field(default_factory=list)
    post: list[Check] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {"pre": [c.to_dict() for c in self.pre], "post": [c.to_dict() for c in self.post]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ChecksConfig:
        def build(items: Any, stage: str) -> list[Check]:
            out: list[Check] = []
            for item in items or []:
                if not isinstance(item, Mapping) or "kind" not in item:
                    raise ValueError(f"checks.{stage}: each check needs a 'kind', got {item!r}")
                kind = item["kind"]
                klass = CHECK_KINDS.get(kind)
                if klass is None:
                    raise ValueError(
                        f"checks.{stage}: unknown check kind {kind!r} "
                        f"(known: {', '.join(sorted(CHECK_KINDS))})"
                    )
                if klass.stage != stage:
                    raise ValueError(f"checks.{stage}: {kind!r} is a {klass.stage}-check")
                kwargs = {k: v for k, v in item.items() if k != "kind"}
                try:
                    out.append(klass(**kwargs))
                except TypeError as exc:
                    raise ValueError(f"checks.{stage}.{kind}: {exc}") from exc
            return out

        return cls(pre=build(d.get("pre"), "pre"), post=build(d.get("post"), "post"))


CHECK_KINDS: dict[str, type[Check]] = {
    c.kind: c
    for c in (
        GradNormMax,
        GradNormRobustZ,
        GradNormMedianMultiple,
        LossRegression,
        StateNormMax,
        CanaryDelta,
    )
}
