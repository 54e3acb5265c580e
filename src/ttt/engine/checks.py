"""Composable, vectorised safety checks for the update transaction.

A check has a ``name``, a configurable threshold, the rollback ``status`` it produces when it
fails, and explains itself in plain English with the actual numbers. Checks are vectorised
over sessions: every value is a tensor of shape ``(S,)`` so a sweep of 256 Nano sessions and
a single chat session run the same code.

Pre-checks look at the gradient before the step; post-checks compare probes taken before and
after the step on data the step did not train on (held-out steps, canaries).

Relative checks judge a value against the session's own *history of committed updates*
(``SignalHistory``, one per signal, named by the check's ``history_key``: ``grad_norm`` for
the gradient-norm checks, ``canary_delta`` for ``CanaryRobustZ``). Blocked and rolled-back
updates never enter a history.

Canary probes follow one convention (``canary_probe_dict``): ``canary_loss`` is the mean over
canaries, ``canary_loss.0``, ``canary_loss.1``, ... the per-canary losses, each ``(S,)``.
When per-canary values are present the canary checks judge the **worst canary** (the max over
canaries of after − before); otherwise the delta of the mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from ttt.configs import check_float, check_int, check_str

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


# Capacity of a committed-value history (``SignalHistory``): a relative check's
# ``min_history`` above it could never be reached, so the check could never fire.
HISTORY_CAPACITY = 64
# Limits that keep a check able to fire: a robust z or a multiple above these, or a floor
# that large, accepts everything a finite update can produce.
Z_MAX_LIMIT = 1e6
FLOOR_LIMIT = 1e12
REL_FLOOR_LIMIT = 10.0


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
    # Per session: extra JSON-safe fields merged into the record (e.g. canary before/after).
    details: list[dict[str, Any]] | None = None

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
        if self.details is not None:
            rec.update(self.details[i])
        return rec


@dataclass
class SignalHistory:
    """Per-session ring buffer of one signal's values from *committed* updates only.

    Blocked or rolled-back updates never enter, so an attacker cannot drag the baseline that
    judges the next update. Tensors so that it can be saved with safetensors and batched.
    The engine keeps one per signal (``grad_norm``, ``canary_delta``, ...).
    """

    values: Tensor  # (S, H), NaN marks unused slots
    count: Tensor  # (S,) int64, number of valid entries (<= H)

    @classmethod
    def empty(cls, n_sessions: int, capacity: int = HISTORY_CAPACITY) -> SignalHistory:
        return cls(
            values=torch.full((n_sessions, capacity), float("nan"), dtype=torch.float64),
            count=torch.zeros(n_sessions, dtype=torch.int64),
        )

    def push(self, values: Tensor, mask: Tensor) -> None:
        """Append values[i] for sessions where mask[i] (shift left, newest last)."""
        if not bool(mask.any()):
            return
        shifted = torch.roll(self.values, shifts=-1, dims=1)
        shifted[:, -1] = values.to(torch.float64)
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
    def from_state_dict(cls, d: Mapping[str, Tensor]) -> SignalHistory:
        return cls(values=d["values"].clone(), count=d["count"].clone())

    def select(self, idx: int) -> SignalHistory:
        return SignalHistory(self.values[idx : idx + 1].clone(), self.count[idx : idx + 1].clone())


# The original name: the gradient-norm history is one SignalHistory among others.
GradHistory = SignalHistory

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution x 1.4826 = its standard deviation


def robust_z(
    x: Tensor, history: SignalHistory, *, rel_floor: float, abs_floor: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Robust z of x (S,) against the committed history: ``(z, median, scale)``, all (S,).

    ``z = (x - median) / scale`` with ``scale = max(1.4826 * MAD, rel_floor * |median|,
    abs_floor)``: the floors keep a flat history (MAD = 0) from dividing by zero, and make a
    tiny wobble around a constant history a finite z. NaN where the history is empty.
    """
    med, mad = history.median_mad()
    scale = torch.maximum(MAD_TO_SIGMA * mad, rel_floor * med.abs()).clamp(min=abs_floor)
    return (x.double() - med) / scale, med, scale


class Check:
    """Base class: subclasses are small dataclasses with a threshold and a ``kind``."""

    kind: ClassVar[str] = "check"
    stage: ClassVar[str] = "post"  # "pre" (gradient) or "post" (after the step)
    status: ClassVar[str] = ROLLBACK_LOSS_REGRESSION
    # Name of the committed-history the engine passes to ``evaluate`` (None: no history).
    # Pre-checks get (signals, history); post-checks with a history_key get
    # (pre, post, history), the others (pre, post).
    history_key: ClassVar[str | None] = None

    @property
    def name(self) -> str:
        return self.kind

    def _f(self, field_name: str, **kw: Any) -> None:
        """Validate a number field (``check_float`` with the check's kind in the message)."""
        check_float(f"{self.kind}.{field_name}", getattr(self, field_name), **kw)

    def _min_history(self) -> None:
        value = vars(self)["min_history"]  # subclasses with a min_history field
        check_int(f"{self.kind}.min_history", value, lo=1, hi=HISTORY_CAPACITY)

    def _key(self) -> None:
        check_str(f"{self.kind}.key", vars(self)["key"], max_len=100)

    def _robust_floors(self) -> None:
        self._f("z_max", lo=0.0, lo_open=True, hi=Z_MAX_LIMIT)
        self._min_history()
        self._f("rel_floor", lo=0.0, hi=REL_FLOOR_LIMIT)
        self._f("abs_floor", lo=0.0, lo_open=True, hi=FLOOR_LIMIT)

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
    history_key: ClassVar[str | None] = "grad_norm"

    def __post_init__(self) -> None:
        self._f("max_norm", lo=0.0, lo_open=True, hi=FLOOR_LIMIT)

    def evaluate(self, signals: Mapping[str, Tensor], history: SignalHistory) -> CheckOutcome:
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
    history_key: ClassVar[str | None] = "grad_norm"

    def __post_init__(self) -> None:
        self._robust_floors()

    def evaluate(self, signals: Mapping[str, Tensor], history: SignalHistory) -> CheckOutcome:
        g = signals["grad_norm"].double()
        z, med, scale = robust_z(g, history, rel_floor=self.rel_floor, abs_floor=self.abs_floor)
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
    history_key: ClassVar[str | None] = "grad_norm"

    def __post_init__(self) -> None:
        # k < 1 would refuse most ordinary updates (half of them are above the median).
        self._f("k", lo=1.0, hi=Z_MAX_LIMIT)
        self._min_history()

    def evaluate(self, signals: Mapping[str, Tensor], history: SignalHistory) -> CheckOutcome:
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

    def __post_init__(self) -> None:
        # tol <= -1 would demand a negative loss: nothing could ever commit.
        self._f("tol", lo=-1.0, lo_open=True, hi=100.0)
        self._f("abs_tol", lo=0.0, hi=FLOOR_LIMIT)
        self._key()

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

    def __post_init__(self) -> None:
        self._f("max_abs", lo=0.0, lo_open=True, hi=FLOOR_LIMIT)
        self._key()

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


def finite_or_none(x: float | None) -> float | None:
    """``x`` when it is a finite number, else None (records stay JSON-safe)."""
    return x if x is not None and math.isfinite(x) else None


def finite_at(x: Tensor | None, i: int) -> float | None:
    """Session ``i``'s value of a per-session tensor as a finite float, else None."""
    return None if x is None else finite_or_none(float(x[i]))


def canary_keys(probes: Mapping[str, Any], key: str = "canary_loss") -> list[str]:
    """Per-canary probe keys ``f"{key}.{c}"`` present in ``probes``, in canary order."""
    prefix = f"{key}."
    idx = sorted(
        int(k[len(prefix) :]) for k in probes if k.startswith(prefix) and k[len(prefix) :].isdigit()
    )
    return [f"{prefix}{i}" for i in idx]


def canary_probe_dict(losses: Tensor, key: str = "canary_loss") -> dict[str, Tensor]:
    """Probe entries for k canaries: losses (S, k) -> {key: mean (S,), key.c: (S,) per canary}.

    The engine records every entry in ``probes_pre`` / ``probes_post``; the canary checks
    judge the worst canary.
    """
    if losses.dim() != 2 or losses.shape[1] < 1:
        raise ValueError(f"canary losses must be (S, k) with k >= 1, got {tuple(losses.shape)}")
    out = {key: losses.mean(dim=1)}
    for c in range(losses.shape[1]):
        out[f"{key}.{c}"] = losses[:, c]
    return out


@dataclass
class CanaryValues:
    """Canary loss before/after a step and the delta the canary checks judge, all (S,)."""

    before: Tensor  # mean canary loss before the step
    after: Tensor  # mean canary loss after the step
    delta: Tensor  # worst canary: max_c (after_c - before_c); the mean's delta if no per-canary
    worst: list[str]  # per session: probe key of the canary that gave ``delta``
    worst_before: Tensor  # that canary's loss before
    worst_after: Tensor  # and after

    def details(self, i: int, z: Tensor | None = None) -> dict[str, Any]:
        """JSON-safe canary fields of session i (for check records and events)."""

        d: dict[str, Any] = {
            "canary_before": finite_at(self.before, i),
            "canary_after": finite_at(self.after, i),
            "canary_delta": finite_at(self.delta, i),
            "canary_worst": self.worst[i],
            "canary_worst_before": finite_at(self.worst_before, i),
            "canary_worst_after": finite_at(self.worst_after, i),
        }
        if z is not None:
            d["canary_z"] = finite_at(z, i)
        return d


def canary_values(
    pre: Mapping[str, Tensor], post: Mapping[str, Tensor], key: str = "canary_loss"
) -> CanaryValues | None:
    """Canary before/after/delta from pre/post probes (None when no canary was probed).

    With per-canary probes (``key.0``, ``key.1``, ...) the judged delta is the **max over
    canaries** of after − before (a NaN anywhere makes it NaN, which every canary check
    fails); without them it is the delta of ``key`` (the mean).
    """
    keys = [k for k in canary_keys(pre, key) if k in post]
    if keys:
        b = torch.stack([pre[k].double() for k in keys], dim=1)  # (S, k)
        a = torch.stack([post[k].double() for k in keys], dim=1)  # (S, k)
        d = a - b  # (S, k)
        bad = torch.isnan(d).any(dim=1)  # (S,)
        worst_val, idx = d.nan_to_num(nan=math.inf).max(dim=1)  # (S,), (S,)
        delta = torch.where(bad, torch.full_like(worst_val, math.nan), worst_val)
        before = pre[key].double() if key in pre else b.mean(dim=1)
        after = post[key].double() if key in post else a.mean(dim=1)
        pick = idx.view(-1, 1)
        return CanaryValues(
            before=before,
            after=after,
            delta=delta,
            worst=[keys[int(j)] for j in idx],
            worst_before=b.gather(1, pick).squeeze(1),
            worst_after=a.gather(1, pick).squeeze(1),
        )
    if key in pre and key in post:
        before, after = pre[key].double(), post[key].double()
        return CanaryValues(
            before=before,
            after=after,
            delta=after - before,
            worst=[key] * before.shape[0],
            worst_before=before,
            worst_after=after,
        )
    return None


def _need_canary(
    kind: str, key: str, pre: Mapping[str, Tensor], post: Mapping[str, Tensor]
) -> CanaryValues:
    vals = canary_values(pre, post, key)
    if vals is None:
        raise ValueError(
            f"{kind}: the probes have no {key!r} (nor per-canary {key}.0, {key}.1, ...); "
            "give the domain a canary probe"
        )
    return vals


@dataclass
class CanaryDelta(Check):
    """Canary loss may rise by at most ``max_delta`` (absolute) after the step.

    With per-canary probes the worst canary is judged (max over canaries of after − before);
    otherwise the mean canary loss ``key``. A NaN canary loss after the step fails.
    """

    max_delta: float = 0.05
    key: str = "canary_loss"
    kind: ClassVar[str] = "canary_delta"
    stage: ClassVar[str] = "post"
    status: ClassVar[str] = ROLLBACK_CANARY

    def __post_init__(self) -> None:
        # A negative limit would demand that every write lowers the canary loss.
        self._f("max_delta", lo=0.0, hi=Z_MAX_LIMIT)
        self._key()

    def evaluate(self, pre: Mapping[str, Tensor], post: Mapping[str, Tensor]) -> CheckOutcome:
        v = _need_canary(self.kind, self.key, pre, post)
        delta = v.delta
        th = torch.full_like(delta, float(self.max_delta))
        passed = delta <= th  # NaN fails
        reasons = [
            None
            if bool(passed[i])
            else f"canary loss rose by {_fmt(float(delta[i]))} ({v.worst[i]}: "
            f"{_fmt(float(v.worst_before[i]))} -> {_fmt(float(v.worst_after[i]))}), above the "
            f"limit {_fmt(self.max_delta)}"
            for i in range(len(delta))
        ]
        details = [v.details(i) for i in range(len(delta))]
        return CheckOutcome(self.name, self.status, passed, delta, th, reasons, details=details)


@dataclass
class CanaryRobustZ(Check):
    """Canary-loss delta judged against this session's committed updates (robust z).

    ``z = (delta - median) / scale`` over the history of *committed* canary deltas (the
    engine's ``canary_delta`` history; blocked or rolled-back updates never enter it), with
    ``scale = max(1.4826 * MAD, rel_floor * |median|, abs_floor)``: the floors are what keeps
    a flat history (MAD = 0) from dividing by zero. ``abs_floor`` is in canary-loss units:
    the smallest spread of deltas taken seriously. Fails when ``z > z_max`` *and*
    ``delta > min_delta`` (a drop of the canary loss never fails), or when the delta is not
    finite. Passes (and says so in the record: ``score`` None) until ``min_history`` committed
    deltas exist. Judges the same delta as ``CanaryDelta`` (worst canary when per-canary
    probes are present).
    """

    z_max: float = 6.0
    min_history: int = 8
    rel_floor: float = 0.05
    abs_floor: float = 1e-8
    min_delta: float = 0.0
    key: str = "canary_loss"
    kind: ClassVar[str] = "canary_robust_z"
    stage: ClassVar[str] = "post"
    status: ClassVar[str] = ROLLBACK_CANARY
    history_key: ClassVar[str | None] = "canary_delta"

    def __post_init__(self) -> None:
        self._robust_floors()
        self._f("min_delta", lo=0.0, hi=Z_MAX_LIMIT)
        self._key()

    def evaluate(
        self,
        pre: Mapping[str, Tensor],
        post: Mapping[str, Tensor],
        history: SignalHistory | None = None,
    ) -> CheckOutcome:
        v = _need_canary(self.kind, self.key, pre, post)
        delta = v.delta
        if history is None:
            history = SignalHistory.empty(delta.shape[0])
        z, med, scale = robust_z(delta, history, rel_floor=self.rel_floor, abs_floor=self.abs_floor)
        enough = history.count >= self.min_history
        finite = torch.isfinite(delta)
        limit = torch.maximum(med + self.z_max * scale, torch.full_like(delta, self.min_delta))
        th = torch.where(enough, limit, torch.full_like(delta, math.inf))
        passed = finite & (~enough | (z <= self.z_max) | (delta <= self.min_delta))
        score = torch.where(enough, z, torch.full_like(delta, math.nan))
        reasons: list[str | None] = []
        for i in range(len(delta)):
            if bool(passed[i]):
                reasons.append(None)
            elif not bool(finite[i]):
                reasons.append(f"canary loss after the step is not finite ({v.worst[i]})")
            else:
                reasons.append(
                    f"canary loss rose by {_fmt(float(delta[i]))} ({v.worst[i]}: "
                    f"{_fmt(float(v.worst_before[i]))} -> {_fmt(float(v.worst_after[i]))}), "
                    f"{_fmt(float(z[i]))} robust z above this session's committed median delta "
                    f"{_fmt(float(med[i]))} (limit z = {_fmt(self.z_max)}, i.e. delta <= "
                    f"{_fmt(float(th[i]))})"
                )
        details = [v.details(i, score) for i in range(len(delta))]
        return CheckOutcome(
            self.name, self.status, passed, delta, th, reasons, score=score, details=details
        )


@dataclass
class CanaryAlignmentMin(Check):
    """Directional pre-check: refuse a write whose gradient points against a canary.

    The engine computes ``canary_cos_min``: the smallest cosine, over canaries, between the
    chunk's training gradient and the canary's gradient (both at the pre-step weights). A
    descent step moves along the negative training gradient, so to first order a canary's
    loss rises when that cosine is negative. Fails when it is below ``min_cos``. Needs the
    engine's ``canary_grads_fn``. (Muon orthogonalises the step, so this is a signal about
    the gradient, not a bound on the write: SPFW bounds the write.)
    """

    min_cos: float = -0.5
    key: str = "canary_cos_min"
    kind: ClassVar[str] = "canary_alignment_min"
    stage: ClassVar[str] = "pre"
    status: ClassVar[str] = ROLLBACK_CANARY

    def __post_init__(self) -> None:
        # min_cos = 1 would pass only a gradient exactly parallel to every canary's.
        self._f("min_cos", lo=-1.0, hi=1.0, hi_open=True)
        self._key()

    def evaluate(self, signals: Mapping[str, Tensor], history: SignalHistory) -> CheckOutcome:
        if self.key not in signals:
            raise ValueError(
                f"{self.kind}: no {self.key!r} signal; give the engine a canary_grads_fn"
            )
        c = signals[self.key].double()
        th = torch.full_like(c, float(self.min_cos))
        passed = c >= th  # NaN fails
        reasons = [
            None
            if bool(passed[i])
            else f"the update's gradient points against a canary: cos = {_fmt(float(c[i]))} "
            f"below the limit {_fmt(self.min_cos)}"
            for i in range(len(c))
        ]
        return CheckOutcome(self.name, self.status, passed, c, th, reasons)


@dataclass
class ChecksConfig:
    """The checks of one session, serialisable to JSON (``plasticity_cfg.checks``)."""

    pre: list[Check] = field(default_factory=list)
    post: list[Check] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {"pre": [c.to_dict() for c in self.pre], "post": [c.to_dict() for c in self.post]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ChecksConfig:
        if not isinstance(d, Mapping):
            raise ValueError(f"checks must be an object with 'pre' and 'post', got {d!r}")
        unknown = sorted(set(d) - {"pre", "post"})
        if unknown:
            raise ValueError(
                f"checks: unknown key(s) {', '.join(map(str, unknown))} (use pre, post)"
            )

        def build(items: Any, stage: str) -> list[Check]:
            if items is None:
                return []
            if not isinstance(items, list | tuple):
                raise ValueError(f"checks.{stage} must be a list of checks, got {items!r}")
            out: list[Check] = []
            for i, item in enumerate(items):
                where = f"checks.{stage}[{i}]"
                if not isinstance(item, Mapping) or "kind" not in item:
                    raise ValueError(f"{where}: each check needs a 'kind', got {item!r}")
                kind = item["kind"]
                klass = CHECK_KINDS.get(kind) if isinstance(kind, str) else None
                if klass is None:
                    raise ValueError(
                        f"{where}: unknown check kind {kind!r} "
                        f"(known: {', '.join(sorted(CHECK_KINDS))})"
                    )
                if klass.stage != stage:
                    raise ValueError(f"{where}: {kind!r} is a {klass.stage}-check")
                kwargs = {k: v for k, v in item.items() if k != "kind"}
                try:
                    out.append(klass(**kwargs))
                except TypeError as exc:
                    raise ValueError(f"{where} ({kind}): {exc}") from exc
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from exc
            return out

        return cls(pre=build(d.get("pre"), "pre"), post=build(d.get("post"), "post"))

    def keys(self) -> dict[str, set[str]]:
        """The probe/signal keys the checks read: {"pre": {...}, "post": {...}}."""
        return {
            stage: {str(c.key) for c in checks if hasattr(c, "key")}
            for stage, checks in (("pre", self.pre), ("post", self.post))
        }


CHECK_KINDS: dict[str, type[Check]] = {
    c.kind: c
    for c in (
        GradNormMax,
        GradNormRobustZ,
        GradNormMedianMultiple,
        LossRegression,
        StateNormMax,
        CanaryDelta,
        CanaryRobustZ,
        CanaryAlignmentMin,
    )
}
