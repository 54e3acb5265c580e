"""The update transaction: one guarded write to the fast weights.

    gate -> probe(pre) -> gradient [-> canary gradients, alignment] -> pre-checks -> snapshot
         [-> projection.prepare] -> Muon step(s) -> projection -> probe(post) -> post-checks
         -> commit or rollback -> one UpdateEvent per session

Every domain (Nano sessions and sweeps, Sentry, chat) writes through ``UpdateEngine``. The
domain supplies:

* a backend holding the plastic tensors and the optimiser (``ttt.engine.backends``),
* ``loss_fn()``: the per-session training loss ``(S,)`` of the current chunk, differentiable
  w.r.t. the plastic tensors,
* ``probe_fn()``: no-grad measurements ``{name: (S,)}`` taken before and after the step, on
  data the step did not train on (``holdout_loss``), hidden-state size (``max_h``), canaries
  (``canary_loss``)...,
* optionally a gate decision and a projection of the weight change (SPFW),
* optionally ``canary_grads_fn()``: per-canary gradients ``{name: (S, k, *param_shape)}`` at
  the current (pre-step) weights. The engine then records the *directional signal* (cos and
  dot between the chunk gradient and each canary gradient, ``event.grad_alignment``; signals
  ``canary_cos_min`` / ``canary_dot_min`` for pre-checks) and hands the same gradients to the
  projection's ``prepare``.

Canary fields of an event: ``canary_before`` / ``canary_after`` (mean canary loss probe),
``canary_delta`` (the delta the canary checks judge: worst canary when per-canary probes are
present), ``canary_worst`` (which probe key), ``canary_z`` (robust z, when a
``canary_robust_z`` check ran); the same numbers are in that check's record in
``event.checks``, and every per-canary loss is in ``probes_pre`` / ``probes_post``.

Rollback restores weights and optimiser state bit-exactly (see backends). Committed values of
each signal feed a per-session history (``grad_norm``; ``canary_delta`` whenever a canary is
probed) used by relative checks; blocked or rolled-back updates never enter them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor

from ttt.configs import check_float, check_int
from ttt.engine.backends import PlasticBackend
from ttt.engine.checks import (
    BLOCKED_GATE,
    COMMIT,
    HISTORY_CAPACITY,
    ROLLBACK_GRAD_NORM,
    ROLLBACK_LOSS_REGRESSION,
    Check,
    CheckOutcome,
    ChecksConfig,
    SignalHistory,
    canary_keys,
    canary_values,
    finite_at,
    finite_or_none,
)

GRAD_NORM_HISTORY = "grad_norm"
LR_LIMIT = 10.0  # a Muon step's spectral size; 10 is already far beyond any useful write
STEPS_PER_UPDATE_LIMIT = 100
CANARY_DELTA_HISTORY = "canary_delta"

CanaryGradsFn = Callable[[], Mapping[str, Tensor]]


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
        for name in ("lr", "lr_min", "lr_max"):
            check_float(
                f"StepSizeControl.{name}", getattr(self, name), lo=0.0, lo_open=True, hi=LR_LIMIT
            )
        if not self.lr_min <= self.lr <= self.lr_max:
            raise ValueError(
                f"StepSizeControl needs 0 < lr_min <= lr <= lr_max, got lr_min={self.lr_min!r}, "
                f"lr={self.lr!r}, lr_max={self.lr_max!r}"
            )
        check_float("StepSizeControl.backoff", self.backoff, lo=0.0, lo_open=True, hi=1.0)
        check_float("StepSizeControl.growth", self.growth, lo=1.0, hi=10.0)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def next_lr(self, lr: Tensor, committed: Tensor, regressed: Tensor) -> Tensor:
        grown = (lr * self.growth).clamp(max=self.lr_max)
        shrunk = (lr * self.backoff).clamp(min=self.lr_min)
        return torch.where(committed, grown, torch.where(regressed, shrunk, lr))


class Projection(Protocol):
    """Constrains the weight change of a step (SPFW); returns new weights and stats.

    ``before`` / ``after``: the plastic weights before the step and after the Muon step(s),
    shaped like ``backend.params``; ``active`` (S,) bool: sessions that stepped. Returns the
    weights to apply (sessions that are not active are ignored) and one JSON-safe stats dict
    (or None) per session.

    A projection may also define ``prepare(active, canary_grads=None)``: the engine calls it
    after the snapshot and before the step, while the weights are still the pre-step ones
    (with the engine's canary gradients when it has a ``canary_grads_fn``). The chunk
    gradient in ``.grad`` is set aside during the call and restored afterwards.
    """

    def __call__(
        self, before: Mapping[str, Tensor], after: Mapping[str, Tensor], active: Tensor
    ) -> tuple[dict[str, Tensor], list[dict[str, Any] | None]]: ...


def flatten_sessions(tensors: Mapping[str, Tensor], names: Sequence[str], s: int) -> Tensor:
    """Concatenate per-session tensors across names: each (S, ...) or (...) with S = 1 ->
    (S, n) float64, in the given name order."""
    parts = [tensors[n].detach().double().reshape(s, -1) for n in names]
    return torch.cat(parts, dim=1)


def flatten_canary_grads(
    grads: Mapping[str, Tensor], params: Mapping[str, Tensor], s: int
) -> Tensor:
    """Canary gradients {name: (S, k, *param_shape)} -> (S, k, n) float64, in ``params`` order.

    ``param_shape`` is one session's shape: ``p.shape`` for a single-session backend,
    ``p.shape[1:]`` for a batched one.
    """
    k: int | None = None
    parts = []
    for name, p in params.items():
        if name not in grads:
            raise ValueError(f"canary gradients miss the plastic tensor {name!r}")
        g = grads[name].detach()
        per = p.numel() // s
        if g.dim() < 2 or g.shape[0] != s or g[0, 0].numel() != per:
            raise ValueError(
                f"canary gradient {name!r} must be (S={s}, k, *{tuple(p.shape[-2:])}), "
                f"got {tuple(g.shape)}"
            )
        if k is None:
            k = g.shape[1]
        elif g.shape[1] != k:
            raise ValueError(f"canary gradients disagree on k: {k} vs {g.shape[1]} ({name!r})")
        parts.append(g.double().reshape(s, k, per))
    return torch.cat(parts, dim=2)


def grad_alignment(grad: Tensor, canary: Tensor) -> tuple[Tensor, Tensor]:
    """Dot and cosine between the chunk gradient (S, n) and canary gradients (S, k, n).

    Returns (dot, cos), both (S, k); cos is 0 where either gradient is zero. A descent step
    moves along -grad, so a negative cos means the step raises that canary's loss (to first
    order).
    """
    dot = torch.einsum("skn,sn->sk", canary, grad)  # (S, k)
    norms = canary.norm(dim=2) * grad.norm(dim=1, keepdim=True)  # (S, k)
    cos = torch.where(norms > 0, dot / norms.clamp(min=1e-300), torch.zeros_like(dot))
    return dot, cos


@dataclass
class GateDecision:
    """Per-session allow/block from a gate that ran before the transaction."""

    allowed: Tensor  # (S,) bool
    reasons: list[list[str]]  # per session
    scores: list[dict[str, float]] = field(default_factory=list)


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
    # Canary (None when no canary was probed; after/delta/z None when no step was taken).
    canary_before: float | None = None
    canary_after: float | None = None
    canary_delta: float | None = None
    canary_worst: str | None = None
    canary_z: float | None = None
    # Directional signal: {"dot": [k], "cos": [k], "min_cos": x} when canary gradients exist.
    grad_alignment: dict[str, Any] | None = None
    # The check that decided a rollback or block (its ``name``; "non_finite" for a
    # non-finite loss or gradient, "gate" for a gate block); None for a commit.
    check: str | None = None
    # Optimiser steps the write was made of (0 when no step was taken).
    steps: int = 0

    @property
    def committed(self) -> bool:
        return self.status == COMMIT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TransactionResult:
    events: list[UpdateEvent]  # one per session; empty when the caller asked for none
    committed: Tensor  # (S,) bool
    attempted: Tensor  # (S,) bool: sessions that were not blocked by the gate
    statuses: list[str] = field(default_factory=list)  # per session, always filled
    fired: list[str | None] = field(default_factory=list)  # per session: the deciding check


class UpdateEngine:
    """Runs transactions for the S sessions held by a backend.

    The engine's own state (per-session lr, committed-value histories, attempt counter) is
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
        history_capacity: int = HISTORY_CAPACITY,
        canary_key: str = "canary_loss",
        canary_grads_fn: CanaryGradsFn | None = None,
        stop_on_train_rise: bool = False,
    ) -> None:
        check_int("steps_per_update", steps_per_update, lo=1, hi=STEPS_PER_UPDATE_LIMIT)
        check_int("history_capacity", history_capacity, lo=1, hi=100_000)
        for c in (*checks.pre, *checks.post):
            need = getattr(c, "min_history", None)
            if need is not None and need > history_capacity:
                raise ValueError(
                    f"{c.kind}.min_history={need} exceeds the engine's history capacity "
                    f"{history_capacity}: the check could never fire"
                )
        self.backend = backend
        self.checks = checks
        self.step_size = step_size or StepSizeControl()
        self.steps_per_update = steps_per_update
        self.loss_key = loss_key
        self.projection = projection
        self.canary_key = canary_key
        self.canary_grads_fn = canary_grads_fn
        self.stop_on_train_rise = stop_on_train_rise
        self.history_capacity = history_capacity
        s = backend.n_sessions
        self.lr = torch.full((s,), self.step_size.lr, dtype=torch.float64)
        # One committed-value history per signal; "grad_norm" always exists, the others are
        # created when first needed (a check asks for one, or a canary is probed).
        self.histories: dict[str, SignalHistory] = {
            GRAD_NORM_HISTORY: SignalHistory.empty(s, history_capacity)
        }
        self.attempts = torch.zeros(s, dtype=torch.int64)

    @property
    def history(self) -> SignalHistory:
        """The committed gradient-norm history (``histories["grad_norm"]``)."""
        return self.histories[GRAD_NORM_HISTORY]

    @history.setter
    def history(self, h: SignalHistory) -> None:
        self.histories[GRAD_NORM_HISTORY] = h

    def history_for(self, key: str) -> SignalHistory:
        """The committed history of signal ``key`` (created empty on first use)."""
        if key not in self.histories:
            self.histories[key] = SignalHistory.empty(
                self.backend.n_sessions, self.history_capacity
            )
        return self.histories[key]

    # -- persistence -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Tensor]:
        """Tensors only: ``lr``, ``attempts``, ``history.values`` / ``history.count`` (the
        gradient-norm history, under its original keys) and ``history.<signal>.values`` /
        ``.count`` for every other history."""
        out = {
            "lr": self.lr.clone(),
            "attempts": self.attempts.clone(),
            **{f"history.{k}": v for k, v in self.history.state_dict().items()},
        }
        for name in sorted(self.histories):
            if name != GRAD_NORM_HISTORY:
                for k, v in self.histories[name].state_dict().items():
                    out[f"history.{name}.{k}"] = v
        return out

    def load_state_dict(self, d: Mapping[str, Tensor]) -> None:
        """Load a state dict; one written before a history existed loads it as empty."""
        self.lr = d["lr"].clone().to(torch.float64)
        self.attempts = d["attempts"].clone().to(torch.int64)
        histories = {
            GRAD_NORM_HISTORY: SignalHistory.from_state_dict(
                {"values": d["history.values"], "count": d["history.count"]}
            )
        }
        for key in d:
            parts = key.split(".")
            if len(parts) == 3 and parts[0] == "history" and parts[2] == "values":
                name = parts[1]
                if f"history.{name}.count" not in d:
                    raise ValueError(f"engine state has {key!r} but no history.{name}.count")
                histories[name] = SignalHistory.from_state_dict(
                    {"values": d[key], "count": d[f"history.{name}.count"]}
                )
        self.histories = histories

    # -- helpers -----------------------------------------------------------------------
    def _pre_history(self, c: Check) -> SignalHistory:
        return self.history_for(c.history_key or GRAD_NORM_HISTORY)

    def _post_evaluate(
        self, c: Check, pre: Mapping[str, Tensor], post: Mapping[str, Tensor]
    ) -> CheckOutcome:
        if c.history_key is not None:
            return c.evaluate(pre, post, self.history_for(c.history_key))  # type: ignore[attr-defined]
        return c.evaluate(pre, post)  # type: ignore[attr-defined]

    def _without_grads(self, fn: Callable[[], Any]) -> Any:
        """Call fn with the plastic ``.grad`` set aside (restored afterwards, untouched)."""
        params = self.backend.params
        saved = {n: p.grad for n, p in params.items()}
        for p in params.values():
            p.grad = None
        try:
            return fn()
        finally:
            for n, p in params.items():
                p.grad = saved[n]

    def _check_probe_keys(self, pre: Mapping[str, Tensor], post: Mapping[str, Tensor]) -> None:
        """A post-check reading a probe the domain does not provide is a config error."""
        for c in self.checks.post:
            key = getattr(c, "key", None)
            if key is None or c.kind.startswith("canary_"):
                continue  # canary checks explain a missing canary probe themselves
            if key not in pre or key not in post:
                raise ValueError(
                    f"{c.kind}.key={key!r}: no such probe (this domain's probes: "
                    f"{', '.join(sorted(post))})"
                )

    def _steps(self, active: Tensor, train_loss: Tensor, loss_fn: Callable[[], Tensor]) -> Tensor:
        """Up to ``steps_per_update`` optimiser steps for the active sessions (the first
        gradient is already in ``.grad``); returns the steps kept per session (S,).

        With ``stop_on_train_rise`` a session stops as soon as a step raised its training
        loss, and that step is undone (weights and optimiser state): Muon's step has a fixed
        size, so near a minimum the later steps of a fixed count only overshoot. A session's
        first step is always kept, so every attempt proposes a real write."""
        s = self.backend.n_sessions
        taken = torch.zeros(s, dtype=torch.int64)
        if not bool(active.any()):
            return taken
        stepping = active.clone()
        prev = train_loss.clone()
        last: Any = None
        judge = self.stop_on_train_rise

        def undo_rises(cur: Tensor) -> None:
            nonlocal stepping, prev
            cur = cur.detach().double()
            rose = stepping & (taken >= 2) & ~(cur <= prev)  # NaN counts as a rise
            if bool(rose.any()):
                self.backend.restore(last, rose)
                taken.sub_(rose.to(torch.int64))
                stepping = stepping & ~rose
            prev = torch.where(stepping, cur, prev)

        for k in range(self.steps_per_update):
            if k > 0:
                self.backend.zero_grad()
                cur = loss_fn()
                cur.sum().backward()
                if judge:
                    undo_rises(cur)
                    if not bool(stepping.any()):
                        return taken
            if judge:
                last = self.backend.snapshot()
            self.backend.step(self.lr, stepping)
            taken.add_(stepping.to(torch.int64))
        if judge and self.steps_per_update > 1:
            with torch.no_grad():
                undo_rises(loss_fn())  # the last step is judged too
        return taken

    # -- the transaction ---------------------------------------------------------------
    def transact(
        self,
        *,
        t: int | Sequence[int],
        loss_fn: Callable[[], Tensor],
        probe_fn: Callable[[], Mapping[str, Tensor]] | None = None,
        gate: GateDecision | None = None,
        events: bool = True,
    ) -> TransactionResult:
        """One guarded write for every session. ``events=False`` skips building the
        per-session ``UpdateEvent`` records (sweeps); ``statuses`` and ``fired`` are always
        filled."""
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

        # Canary gradients at the pre-step weights: the directional signal, and SPFW's input.
        canary_grads: dict[str, Tensor] | None = None
        align: tuple[Tensor, Tensor] | None = None
        if self.canary_grads_fn is not None:
            fn = self.canary_grads_fn
            canary_grads = dict(self._without_grads(lambda: dict(fn())))
            params = self.backend.params
            g_canary = flatten_canary_grads(canary_grads, params, s)  # (S, k, n)
            g_chunk = torch.cat(
                [
                    (p.grad if p.grad is not None else torch.zeros_like(p)).double().reshape(s, -1)
                    for p in params.values()
                ],
                dim=1,
            )  # (S, n)
            align = grad_alignment(g_chunk, g_canary)
            signals["canary_dot_min"] = align[0].min(dim=1).values
            signals["canary_cos_min"] = align[1].min(dim=1).values

        pre_out: list[CheckOutcome] = [
            c.evaluate(signals, self._pre_history(c))  # type: ignore[attr-defined]
            for c in self.checks.pre
        ]
        pre_ok = finite.clone()
        for o in pre_out:
            pre_ok &= o.passed
        active = allowed & pre_ok

        snap = self.backend.snapshot()
        prepare = getattr(self.projection, "prepare", None)
        if prepare is not None and bool(active.any()):
            self._without_grads(lambda: prepare(active, canary_grads=canary_grads))
        steps_taken = self._steps(active, train_loss, loss_fn)
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
            self._check_probe_keys(pre, post)
            post_out = [self._post_evaluate(c, pre, post) for c in self.checks.post]
            for o in post_out:
                post_ok &= o.passed
        committed = active & post_ok
        canary = canary_values(pre, post, self.canary_key) if post else None
        self.backend.restore(snap, ~committed)

        regressed = torch.zeros(s, dtype=torch.bool)
        for o in post_out:
            if o.status == ROLLBACK_LOSS_REGRESSION:
                regressed |= active & ~o.passed
        lr_used = self.lr.clone()
        self.lr = self.step_size.next_lr(self.lr, committed, regressed)
        self.history.push(grad_norm, committed)
        if canary is not None:
            ok = committed & torch.isfinite(canary.delta)
            self.history_for(CANARY_DELTA_HISTORY).push(canary.delta, ok)
        self.attempts += 1

        z_out = next((o for o in pre_out if o.name == "grad_norm_robust_z"), None)
        cz_out = next((o for o in post_out if o.name == "canary_robust_z"), None)
        canary_pre = pre.get(self.canary_key)
        if canary_pre is None and (ckeys := canary_keys(pre, self.canary_key)):
            canary_pre = torch.stack([pre[k] for k in ckeys], dim=1).mean(dim=1)
        duration_ms = (time.perf_counter() - t0) * 1000.0
        statuses, fired, why = _decisions(
            allowed, finite, pre_ok, committed, pre_out, post_out, gate, train_loss, grad_norm,
            want_reasons=events,
        )  # fmt: skip
        if not events:
            return TransactionResult(
                events=[], committed=committed, attempted=allowed, statuses=statuses, fired=fired
            )
        out_events: list[UpdateEvent] = []
        for i in range(s):
            status, reasons = statuses[i], why[i]
            did_step = bool(active[i])
            pre_loss = finite_at(pre.get(self.loss_key), i)
            if pre_loss is None and self.loss_key not in pre:
                pre_loss = finite_at(train_loss, i)
            out_events.append(
                UpdateEvent(
                    t=ts[i],
                    index=int(self.attempts[i]) - 1,
                    status=status,
                    reasons=reasons,
                    pre_loss=pre_loss,
                    post_loss=finite_at(post.get(self.loss_key), i) if did_step else None,
                    train_loss=finite_at(train_loss, i),
                    grad_norm=finite_at(grad_norm, i),
                    grad_norm_z=finite_at(z_out.score if z_out is not None else None, i),
                    pre_max_h=finite_at(pre.get("max_h"), i),
                    post_max_h=finite_at(post.get("max_h"), i) if did_step else None,
                    lr=float(lr_used[i]),
                    update_norm=finite_at(update_norm, i) if did_step else None,
                    checks=[o.record(i) for o in pre_out]
                    + ([o.record(i) for o in post_out] if did_step else []),
                    probes_pre={k: finite_at(v, i) for k, v in pre.items()},
                    probes_post={k: finite_at(v, i) for k, v in post.items()} if did_step else {},
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
                    canary_before=finite_at(canary_pre, i),
                    canary_after=finite_at(canary.after, i) if did_step and canary else None,
                    canary_delta=finite_at(canary.delta, i) if did_step and canary else None,
                    canary_worst=canary.worst[i] if did_step and canary else None,
                    canary_z=(
                        finite_at(cz_out.score, i) if did_step and cz_out is not None else None
                    ),
                    grad_alignment=_alignment_record(align, i),
                    check=fired[i],
                    steps=int(steps_taken[i]),
                )
            )
        return TransactionResult(
            events=out_events,
            committed=committed,
            attempted=allowed,
            statuses=statuses,
            fired=fired,
        )


def _decisions(
    allowed: Tensor,
    finite: Tensor,
    pre_ok: Tensor,
    committed: Tensor,
    pre_out: list[CheckOutcome],
    post_out: list[CheckOutcome],
    gate: GateDecision | None,
    train_loss: Tensor,
    grad_norm: Tensor,
    *,
    want_reasons: bool,
) -> tuple[list[str], list[str | None], list[list[str]]]:
    """Per session: (status, the check that decided it, plain-English reasons)."""
    statuses: list[str] = []
    fired: list[str | None] = []
    why: list[list[str]] = []
    ok_allowed, ok_finite = allowed.tolist(), finite.tolist()
    ok_pre, ok_commit = pre_ok.tolist(), committed.tolist()
    pre_passed = [o.passed.tolist() for o in pre_out]
    post_passed = [o.passed.tolist() for o in post_out]
    for i in range(len(ok_allowed)):
        reasons: list[str] = []
        name: str | None = None
        if not ok_allowed[i]:
            status, name = BLOCKED_GATE, "gate"
            reasons = list(gate.reasons[i]) if gate is not None else ["blocked by the gate"]
        elif not ok_finite[i]:
            status, name = ROLLBACK_GRAD_NORM, "non_finite"
            if want_reasons:
                reasons = [
                    f"non-finite training loss or gradient (loss={float(train_loss[i])}, "
                    f"grad_norm={float(grad_norm[i])})"
                ]
        elif not ok_commit[i]:
            stage, passed = (pre_out, pre_passed) if not ok_pre[i] else (post_out, post_passed)
            failed = [o for o, ps in zip(stage, passed, strict=True) if not ps[i]]
            status, name = failed[0].status, failed[0].name
            if want_reasons:
                reasons = [r for o in failed if (r := o.reasons[i])]
        else:
            status = COMMIT
        statuses.append(status)
        fired.append(name)
        why.append(reasons)
    return statuses, fired, why


def _alignment_record(align: tuple[Tensor, Tensor] | None, i: int) -> dict[str, Any] | None:
    if align is None:
        return None
    dot, cos = align

    def clean(xs: list[float]) -> list[float | None]:
        return [finite_or_none(x) for x in xs]

    return {
        "dot": clean(dot[i].tolist()),
        "cos": clean(cos[i].tolist()),
        "min_cos": finite_at(cos[i].min().reshape(1), 0),
    }
