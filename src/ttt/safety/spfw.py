"""SPFW: safety-projected fast weights.

A fast-weight write Δ = after − before (after the Muon step(s), before the post-checks) is
projected so that, to first order, it raises no canary's loss by more than a slack:

    minimise ||Δ' − Δ||²   subject to   g_c · Δ' <= slack_c   for every canary c

where g_c is canary c's loss gradient at the **pre-step** weights. The weight change is
projected, not the gradient: Muon orthogonalises the gradient, which destroys any constraint
imposed on it before the step (DESIGN.md, "The update transaction").

Two modes:

* ``halfspace`` (default): the exact projection onto the intersection of k half-spaces, a
  small quadratic programme solved exactly in float64 by the Goldfarb–Idnani dual active-set
  method in the k-dimensional span of the canary gradients. Rank-deficient, duplicate or
  zero canary gradients are handled (a dependent constraint is never divided by; an
  infeasible system is reported, not guessed).
* ``nullspace``: remove every component of Δ along span{g_c} (first-order change 0 for all
  canaries, whatever its sign).

The math is pure functions over S sessions at once (``project_halfspaces``,
``project_nullspace``: Δ (S, n), G (S, k, n) flattened across all plastic tensors in the
backend's name order). ``SpfwProjection`` is the thin wrapper that plugs into the engine
(``ttt.engine.transaction.Projection``): the engine calls ``prepare`` at the pre-step weights
to capture the canary gradients, then calls the projection on (before, after).

The wrapper guarantees the constraint for the update **as applied**, i.e. after the projected
weights are rounded to the parameters' dtype (float32): if rounding pushes any g_c·Δ over the
slack it re-solves with the slack tightened by a bound on the rounding error, and if that
still fails (or is infeasible) it applies no change for that session. Every session's stats
say which happened.

    proj = SpfwProjection(SpfwConfig(mode="halfspace", slack=0.0), canary_grads_fn)
    engine = UpdateEngine(backend, checks, projection=proj)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ttt.configs import from_dict
from ttt.engine.checks import finite_or_none
from ttt.engine.transaction import flatten_canary_grads, flatten_sessions

MODES = ("halfspace", "nullspace")
RANK_RTOL = 1e-12  # singular values of G below this x the largest count as zero (duplicates)
DEPENDENT_TOL = 1e-9  # a constraint whose normal is within this (relative) of the span of the
# active normals is treated as linearly dependent on them
VIOLATION_RTOL = 1e-12  # g·Δ - s counts as violated above this x (|s| + |g| |Δ|)


@dataclass
class SpfwConfig:
    """How a fast-weight write is projected (``plasticity.spfw`` / Sentry / chat configs).

    ``slack``: the first-order canary-loss rise allowed per canary (loss units, >= 0).
    ``relative_slack``: plus this fraction of the canary's pre-step loss (needs the canary
    losses, see ``SpfwProjection``). The nullspace mode removes the whole component along
    the canary gradients; its slack only bounds what float rounding may leave.
    """

    mode: str = "halfspace"
    slack: float = 0.0
    relative_slack: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"spfw.mode must be one of {MODES}, got {self.mode!r}")
        for name in ("slack", "relative_slack"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"spfw.{name} must be a finite number, got {v!r}")
            if v < 0:
                raise ValueError(f"spfw.{name} must be >= 0, got {v!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SpfwConfig:
        return from_dict(cls, d, "spfw")


@dataclass
class ProjectionInfo:
    """Per-session facts about one batched projection."""

    iterations: Tensor  # (S,) int64: active-set iterations (0: nothing to do / nullspace)
    feasible: Tensor  # (S,) bool: False when the constraints have no common point
    converged: Tensor  # (S,) bool: False when the iteration limit was hit
    rank: Tensor  # (S,) int64: rank of the canary gradients
    multipliers: Tensor  # (S, k) float64: λ >= 0 of the half-space constraints
    changed: Tensor  # (S,) bool: sessions whose Δ was modified


def _slack_tensor(slack: Tensor | float, s: int, k: int) -> Tensor:
    if isinstance(slack, Tensor):
        out = slack.detach().double()
        if out.dim() == 0:
            return out.expand(s, k).clone()
        if tuple(out.shape) != (s, k):
            raise ValueError(f"slack must be a float or ({s}, {k}), got {tuple(out.shape)}")
        return out.clone()
    return torch.full((s, k), float(slack), dtype=torch.float64)


def _check_shapes(delta: Tensor, g: Tensor) -> tuple[int, int, int]:
    if delta.dim() != 2 or g.dim() != 3 or g.shape[0] != delta.shape[0]:
        raise ValueError(
            f"need delta (S, n) and G (S, k, n), got {tuple(delta.shape)} and {tuple(g.shape)}"
        )
    if g.shape[2] != delta.shape[1]:
        raise ValueError(f"G has n={g.shape[2]} but delta has n={delta.shape[1]}")
    return delta.shape[0], g.shape[1], delta.shape[1]


def _span_basis(g: Tensor, rank_rtol: float) -> tuple[Tensor, Tensor]:
    """Orthonormal basis of span{g_c} per session: U (S, n, m) with dropped columns zeroed,
    and the rank (S,). g: (S, k, n) float64; m = min(n, k)."""
    u, sig, _ = torch.linalg.svd(g.mT, full_matrices=False)  # (S, n, m), (S, m)
    top = sig[:, :1]  # (S, 1)
    keep = (sig > rank_rtol * top) & (sig > 0)  # (S, m)
    return u * keep.unsqueeze(1).to(u.dtype), keep.sum(dim=1)


def _solve_one(
    m_mat: np.ndarray, s: np.ndarray, y0: np.ndarray, tol: np.ndarray, max_iter: int
) -> tuple[np.ndarray, np.ndarray, int, bool, bool]:
    """Goldfarb–Idnani dual active set for min ½||y − y0||² s.t. M y <= s (H = I).

    m_mat: (k, m) constraint normals in the span's coordinates; s, tol: (k,); y0: (m,).
    Returns (y, λ (k,), iterations, feasible, converged). The active normals are kept
    linearly independent: a violated constraint whose normal lies in their span is never
    divided by; the method drops active constraints (partial dual steps) or, when none can
    be dropped, reports infeasibility.
    """
    k = m_mat.shape[0]
    y = y0.copy()
    lam = np.zeros(k)
    active: list[int] = []
    norms = np.linalg.norm(m_mat, axis=1)  # (k,)
    it = 0
    while True:
        v = m_mat @ y - s  # (k,)
        cand = v > tol
        cand[active] = False
        if not cand.any():
            return y, lam, it, True, True
        scaled = np.where(norms > 0, v / np.where(norms > 0, norms, 1.0), v)
        j = int(np.argmax(np.where(cand, scaled, -np.inf)))
        mj = m_mat[j]
        while True:
            it += 1
            if it > max_iter:
                return y, lam, it, True, False
            if active:
                q, r = np.linalg.qr(m_mat[active].T)  # (m, a), (a, a)
                qm = q.T @ mj  # (a,)
                z = mj - q @ qm  # (m,): part of m_j orthogonal to the active normals
                rco = np.linalg.solve(r, qm)  # m_j's projection = Σ rco_i m_{A_i}
            else:
                z = mj.copy()
                rco = np.zeros(0)
            zz = float(z @ z)
            dependent = zz <= DEPENDENT_TOL**2 * float(mj @ mj)  # includes m_j = 0
            t2 = math.inf if dependent else max(0.0, float(mj @ y - s[j]) / zz)
            t1, drop = math.inf, -1
            for idx, (a, rc) in enumerate(zip(active, rco, strict=True)):
                if rc > 0 and lam[a] / rc < t1:
                    t1, drop = lam[a] / rc, idx
            if math.isinf(t1) and math.isinf(t2):
                return y, lam, it, False, True  # no common point of the half-spaces
            t = min(t1, t2)
            if not dependent:
                y = y - t * z
            for a, rc in zip(active, rco, strict=True):
                lam[a] -= t * rc
            lam[j] += t
            if t2 <= t1:
                active.append(j)
                break
            gone = active.pop(drop)
            lam[gone] = 0.0


def _violation_tol(slack: Tensor, g: Tensor, d: Tensor) -> Tensor:
    """(S, k) how far g_c · Δ may exceed slack_c and still count as satisfied: relative to
    the size of the terms (float64 rounding), ``VIOLATION_RTOL · (|slack| + |g_c| |Δ|)``."""
    return VIOLATION_RTOL * (slack.abs() + g.norm(dim=2) * d.norm(dim=1, keepdim=True))


def project_halfspaces(
    delta: Tensor,
    g: Tensor,
    slack: Tensor | float = 0.0,
    *,
    rank_rtol: float = RANK_RTOL,
    max_iter: int | None = None,
) -> tuple[Tensor, ProjectionInfo]:
    """Closest Δ' to Δ with g_c · Δ' <= slack_c for every canary c, per session.

    delta: (S, n); g: (S, k, n); slack: float or (S, k) (may be negative; then the system can
    be infeasible). Returns Δ' (S, n) float64 and per-session info. Sessions that already
    satisfy every constraint are returned unchanged (bit-exactly); sessions whose constraints
    have no common point get Δ' = 0 and ``feasible`` False.
    """
    s_count, k, _ = _check_shapes(delta, g)
    d = delta.detach().double()  # (S, n)
    gg = g.detach().double()  # (S, k, n)
    sl = _slack_tensor(slack, s_count, k)  # (S, k)
    out = d.clone()
    iterations = torch.zeros(s_count, dtype=torch.int64)
    feasible = torch.ones(s_count, dtype=torch.bool)
    converged = torch.ones(s_count, dtype=torch.bool)
    lam_all = torch.zeros(s_count, k, dtype=torch.float64)
    if k == 0:
        unchanged = torch.zeros(s_count, dtype=torch.bool)
        return out, ProjectionInfo(
            iterations, feasible, converged, iterations.clone(), lam_all, unchanged
        )
    tol = _violation_tol(sl, gg, d) + 1e-300  # (S, k)
    v0 = torch.einsum("skn,sn->sk", gg, d) - sl  # (S, k)
    todo = (v0 > tol).any(dim=1)  # (S,)
    basis, rank = _span_basis(gg, rank_rtol)  # (S, n, m), (S,)
    limit = max_iter if max_iter is not None else 50 + 20 * k
    idx = torch.nonzero(todo).flatten().tolist()
    if idx:
        u = basis[idx]  # (B, n, m)
        y0 = torch.einsum("bnm,bn->bm", u, d[idx])  # (B, m)
        m_mat = gg[idx] @ u  # (B, k, m)
        for b, i in enumerate(idx):
            y, lam, it, ok, conv = _solve_one(
                m_mat[b].numpy(), sl[i].numpy(), y0[b].numpy(), tol[i].numpy(), limit
            )
            iterations[i] = it
            feasible[i] = ok
            converged[i] = conv
            if ok:
                lam_all[i] = torch.from_numpy(lam)
                # Δ' = Δ − U (y0 − y): only the component in span{g_c} moves.
                out[i] = d[i] - u[b] @ (y0[b] - torch.from_numpy(y))
            else:
                out[i] = 0.0
    changed = (out != d).any(dim=1)
    return out, ProjectionInfo(iterations, feasible, converged, rank, lam_all, changed)


def project_nullspace(
    delta: Tensor, g: Tensor, *, rank_rtol: float = RANK_RTOL
) -> tuple[Tensor, ProjectionInfo]:
    """Remove every component of Δ along span{g_c}: Δ' = Δ − U Uᵀ Δ, per session.

    delta: (S, n); g: (S, k, n). Zero or duplicate gradients only lower the rank.
    """
    s_count, k, _ = _check_shapes(delta, g)
    d = delta.detach().double()  # (S, n)
    basis, rank = _span_basis(g.detach().double(), rank_rtol)  # (S, n, m)
    coords = torch.einsum("snm,sn->sm", basis, d)  # (S, m)
    out = d - torch.einsum("snm,sm->sn", basis, coords)  # (S, n)
    out = torch.where((rank > 0).view(-1, 1), out, d)
    zeros = torch.zeros(s_count, dtype=torch.int64)
    ones = torch.ones(s_count, dtype=torch.bool)
    info = ProjectionInfo(
        zeros,
        ones,
        ones.clone(),
        rank,
        torch.zeros(s_count, k, dtype=torch.float64),
        (out != d).any(dim=1),
    )
    return out, info


def canary_grads(
    losses: Tensor, params: Mapping[str, Tensor], *, batched: bool
) -> dict[str, Tensor]:
    """Per-canary gradients for ``SpfwProjection`` / the engine's ``canary_grads_fn``.

    losses: (S, k), differentiable w.r.t. ``params``. ``batched``: params are per session
    (S, *shape) (sessions independent, so the gradient of Σ_sessions losses[:, c] w.r.t.
    session i's slice is session i's gradient); otherwise one session (S = 1) with params of
    any shape. Returns {name: (S, k, *shape)} (zeros where a tensor does not affect a canary).
    """
    if losses.dim() != 2:
        raise ValueError(f"canary losses must be (S, k), got {tuple(losses.shape)}")
    s, k = losses.shape
    if not batched and s != 1:
        raise ValueError(f"unbatched params hold one session, got losses for S={s}")
    names = list(params)
    tensors = [params[n] for n in names]
    per_canary: list[list[Tensor]] = []
    for c in range(k):
        gs = torch.autograd.grad(
            losses[:, c].sum(), tensors, retain_graph=c < k - 1, allow_unused=True
        )
        per_canary.append(
            [
                torch.zeros_like(t) if gr is None else gr.detach()
                for gr, t in zip(gs, tensors, strict=True)
            ]
        )
    out: dict[str, Tensor] = {}
    for j, n in enumerate(names):
        stacked = torch.stack([per_canary[c][j] for c in range(k)], dim=0)  # (k, *p.shape)
        if batched:
            out[n] = stacked.transpose(0, 1).contiguous()  # (S, k, *shape)
        else:
            out[n] = stacked.unsqueeze(0)  # (1, k, *shape)
    return out


class SpfwProjection:
    """The engine's projection hook: SPFW on every write (see the module docstring).

    ``canary_grads_fn() -> {name: (S, k, *param_shape)}`` gives the canary gradients at the
    current weights; the engine calls ``prepare`` at the pre-step weights (passing its own
    canary gradients when it has a ``canary_grads_fn``, which are then used instead).
    ``canary_losses_fn() -> (S, k)`` (pre-step canary losses) is needed only for
    ``relative_slack``. Stats per active session are JSON-safe (``UpdateEvent.projection``).
    """

    def __init__(
        self,
        cfg: SpfwConfig | None = None,
        canary_grads_fn: Callable[[], Mapping[str, Tensor]] | None = None,
        *,
        canary_losses_fn: Callable[[], Tensor] | None = None,
    ) -> None:
        self.cfg = cfg or SpfwConfig()
        if self.cfg.relative_slack > 0 and canary_losses_fn is None:
            raise ValueError("spfw.relative_slack > 0 needs canary_losses_fn (pre-step losses)")
        self.canary_grads_fn = canary_grads_fn
        self.canary_losses_fn = canary_losses_fn
        self._grads: dict[str, Tensor] | None = None
        self._losses: Tensor | None = None

    def prepare(self, active: Tensor, canary_grads: Mapping[str, Tensor] | None = None) -> None:
        """Capture canary gradients (and losses) at the pre-step weights."""
        if canary_grads is None:
            if self.canary_grads_fn is None:
                raise RuntimeError(
                    "SpfwProjection needs canary gradients: give it a canary_grads_fn or give "
                    "the engine one"
                )
            canary_grads = self.canary_grads_fn()
        self._grads = {n: g.detach() for n, g in canary_grads.items()}
        self._losses = None
        if self.cfg.relative_slack > 0 and self.canary_losses_fn is not None:
            with torch.no_grad():
                self._losses = self.canary_losses_fn().detach().double()

    def _slack(self, s: int, k: int) -> Tensor:
        slack = torch.full((s, k), float(self.cfg.slack), dtype=torch.float64)
        if self._losses is not None:
            if tuple(self._losses.shape) != (s, k):
                raise ValueError(
                    f"canary_losses_fn must return ({s}, {k}), got {tuple(self._losses.shape)}"
                )
            slack = slack + self.cfg.relative_slack * self._losses.abs()
        return slack

    def __call__(
        self, before: Mapping[str, Tensor], after: Mapping[str, Tensor], active: Tensor
    ) -> tuple[dict[str, Tensor], list[dict[str, Any] | None]]:
        if self._grads is None:
            raise RuntimeError(
                "SpfwProjection.prepare() was not called at the pre-step weights (the engine "
                "calls it; call it yourself before the step otherwise)"
            )
        grads, self._grads = self._grads, None
        names = list(after)
        s = int(active.shape[0])
        g = flatten_canary_grads(grads, after, s)  # (S, k, n)
        k = g.shape[1]
        slack = self._slack(s, k)  # (S, k)
        b_flat = flatten_sessions(before, names, s)  # (S, n)
        a_flat = flatten_sessions(after, names, s)  # (S, n)
        d = torch.where(active.view(-1, 1), a_flat - b_flat, torch.zeros_like(a_flat))  # (S, n)
        if self.cfg.mode == "halfspace":
            d1, info = project_halfspaces(d, g, slack)
        else:
            d1, info = project_nullspace(d, g)

        def apply(dp: Tensor) -> tuple[dict[str, Tensor], Tensor]:
            """Weights for Δ' in the params' dtype, and the Δ they really apply (S, n)."""
            changed = (dp != d).any(dim=1, keepdim=True)  # (S, 1)
            flat = torch.where(changed, b_flat + dp, a_flat)  # (S, n) float64
            new: dict[str, Tensor] = {}
            off = 0
            for n in names:
                per = after[n].numel() // s
                part = flat[:, off : off + per].reshape(after[n].shape)
                new[n] = part.to(after[n].dtype)
                off += per
            return new, flatten_sessions(new, names, s) - b_flat

        new, applied = apply(d1)
        first_order = torch.einsum("skn,sn->sk", g, applied)  # (S, k)
        bad = active & (first_order > slack).any(dim=1)  # (S,): re-solved below
        fell_back = torch.zeros(s, dtype=torch.bool)
        if bool(bad.any()):
            # Rounding to the params' dtype moved Δ' across a constraint: re-solve with the
            # slack tightened by a bound on that rounding, |g|·(eps |w|), with room to spare.
            eps = max(torch.finfo(after[n].dtype).eps for n in names)
            scale = b_flat.abs() + d.abs() + d1.abs()  # (S, n) bounds |w| before/after
            margin = 4 * eps * torch.einsum("skn,sn->sk", g.abs(), scale)  # (S, k)
            # ... and at least a few times the solver's own tolerance (float64 weights).
            margin = torch.maximum(margin, 4 * _violation_tol(slack, g, d))
            start = d if self.cfg.mode == "halfspace" else d1
            d2, info2 = project_halfspaces(start, g, slack - margin)
            d1 = torch.where(bad.view(-1, 1), d2, d1)
            # The re-solved sessions report the re-solve (rank is the span of g either way).
            for name in ("iterations", "feasible", "converged"):
                getattr(info, name)[bad] = getattr(info2, name)[bad]
            new, applied = apply(d1)
            first_order = torch.einsum("skn,sn->sk", g, applied)
            fell_back = bad & (~info2.feasible | (first_order > slack).any(dim=1))
            if bool(fell_back.any()):
                d1 = torch.where(fell_back.view(-1, 1), torch.zeros_like(d1), d1)
                new, applied = apply(d1)
                first_order = torch.einsum("skn,sn->sk", g, applied)

        before_fo = torch.einsum("skn,sn->sk", g, d)  # (S, k)
        viol_before = before_fo - slack
        viol_after = first_order - slack
        d_norm = d.norm(dim=1)
        removed = (d - applied).norm(dim=1)
        stats: list[dict[str, Any] | None] = []
        for i in range(s):
            if not bool(active[i]):
                stats.append(None)
                continue
            nb = float(d_norm[i])
            stats.append(
                {
                    "mode": self.cfg.mode,
                    "n_canaries": k,
                    "rank": int(info.rank[i]),
                    "slack": [finite_or_none(x) for x in slack[i].tolist()],
                    "violations_before": int((viol_before[i] > 0).sum()),
                    "violations_after": int((viol_after[i] > 0).sum()),
                    "max_violation_before": finite_or_none(max(0.0, float(viol_before[i].max()))),
                    "max_violation_after": finite_or_none(max(0.0, float(viol_after[i].max()))),
                    "first_order_before": [finite_or_none(x) for x in before_fo[i].tolist()],
                    "first_order_after": [finite_or_none(x) for x in first_order[i].tolist()],
                    "fraction_removed": finite_or_none(float(removed[i]) / nb) if nb > 0 else 0.0,
                    "norm_before": finite_or_none(nb),
                    "norm_after": finite_or_none(float(applied[i].norm())),
                    "iterations": int(info.iterations[i]),
                    "feasible": bool(info.feasible[i]),
                    "converged": bool(info.converged[i]),
                    "rounding_retry": bool(bad[i]),
                    "fell_back_to_no_change": bool(fell_back[i]),
                }
            )
        return new, stats
