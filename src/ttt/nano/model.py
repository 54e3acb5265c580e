"""The Nano model: a diagonal stable SSM that predicts the next observation.

Data flow per step (``obs = [x, y, vx, vy]``, ``a`` = action)::

    z   = φ(obs)                          fixed feature encoder (no learned weights)
    u   = W_u [z; a/act_scale]            (u_dim,)        plastic
    h'  = decay ⊙ h + B u                 (n_state,)      B plastic, decay = exp(-softplus(a_raw))
    ŷ   = W_o h'                          (obs_dim,)      plastic
    obs' = obs + [v, 0] + out_scale · ŷ   predicted next observation

* ``decay = exp(−softplus(a_raw)) ∈ (0, 1)`` for every real ``a_raw``: the recurrence is
  stable by construction. ``a_raw`` is learned in pretraining (initialised as a spread of
  time scales) and frozen online; ``W_u``, ``B`` and ``W_o`` are the plastic matrices.
* Translation invariance: positions never enter ``z``; the model predicts the *change* of
  the observation relative to constant-velocity extrapolation (``p + v``, ``v``), so losses
  and gradients do not grow with the random walk of the position.
* ``φ`` makes the nonlinear friction law reachable by plastic *linear* maps. The friction
  coefficient jumps at the speed ``2μ``, which moves with μ; ``φ`` places the velocity in a
  bank of log-spaced speed bands (hat functions over log-speed that sum to one), so a
  friction curve ``f(|v|)`` is a linear combination ``Σ_k c_k v b_k(|v|)`` and moving the
  threshold is a change of the coefficients. A band the session never visits has a zero
  feature and gets a zero gradient. All scales are fixed constants in the config.

The model is functional and batched over sessions: ``forward(params, cfg, obs, act, h0)``.
Plastic params may be shared ``(rows, cols)`` or per session ``(S, rows, cols)``; ``a_raw``
is shared ``(n_state,)``. The recurrence is one elementwise pass over time
(``_Recurrence``). ``exact=True`` (the default without a graph: predictions) computes every
(step, session) row on its own, so chunked processing with the carried hidden state equals
one pass bit for bit; ``exact=False`` (training losses, probes over a whole window) projects
all steps of a session with one matmul. Either way a session's numbers do not depend on how
many other sessions share the batch (a sweep equals its sessions run alone).

    params = init_params(NanoSSMConfig(), seed=0)
    out = forward(params, cfg, obs[:-1], act, h0=zeros(S, cfg.n_state))
    loss = mse_per_session(out, obs)          # (S,)
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import Tensor

from ttt.configs import check_bool, check_choice, check_float, check_int

plastic_names: tuple[str, ...] = ("W_u", "B", "W_o")
frozen_names: tuple[str, ...] = ("a_raw",)
param_names: tuple[str, ...] = (*plastic_names, *frozen_names)


def _geom(lo: float, hi: float, k: int) -> tuple[float, ...]:
    if k == 1:
        return (lo,)
    return tuple(round(lo * (hi / lo) ** (i / (k - 1)), 6) for i in range(k))


@dataclass(frozen=True)
class NanoSSMConfig:
    """Shapes, feature encoder and fixed normalisation constants of the Nano SSM."""

    obs_dim: int = 4
    act_dim: int = 2
    u_dim: int = 16
    n_state: int = 32
    speed_min: float = 0.03  # centre of the lowest speed band (everything slower is in it)
    speed_max: float = 1.2  # centre of the highest speed band (everything faster is in it)
    n_bands: int = 12  # speed bands, log-spaced from speed_min to speed_max
    vel_scale: float = 2.0  # z uses v / vel_scale
    act_scale: float = 0.4  # inputs use a / act_scale
    out_scale: float = 0.35  # predicted change = out_scale · ŷ (+ constant-velocity skip)
    action_skip: bool = True
    decay_min: float = 0.02  # a_raw is initialised so that decays span [decay_min, decay_max]
    decay_max: float = 0.9
    init_scale: float = 0.5

    def __post_init__(self) -> None:
        w = "NanoSSMConfig"
        check_choice(f"{w}.obs_dim", self.obs_dim, (4,))  # the point mass: [x, y, vx, vy]
        check_choice(f"{w}.act_dim", self.act_dim, (2,))
        for name in ("u_dim", "n_state"):
            check_int(f"{w}.{name}", getattr(self, name), lo=1, hi=4096)
        check_int(f"{w}.n_bands", self.n_bands, lo=1, hi=256)
        for name in ("speed_min", "speed_max", "vel_scale", "act_scale", "out_scale", "init_scale"):
            check_float(f"{w}.{name}", getattr(self, name), lo=0.0, lo_open=True, hi=1e6)
        if self.n_bands > 1 and not self.speed_min < self.speed_max:
            raise ValueError(
                f"{w}.speed_max must be > speed_min, got speed_min={self.speed_min!r}, "
                f"speed_max={self.speed_max!r}"
            )
        check_bool(f"{w}.action_skip", self.action_skip)
        check_float(f"{w}.decay_min", self.decay_min, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        check_float(f"{w}.decay_max", self.decay_max, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        if not self.decay_min <= self.decay_max:
            raise ValueError(
                f"{w} needs decay_min <= decay_max, got decay_min={self.decay_min!r}, "
                f"decay_max={self.decay_max!r}"
            )

    @property
    def z_dim(self) -> int:
        """Size of φ(obs): one copy of the 2-D velocity per speed band."""
        return 2 * self.n_bands

    @property
    def in_dim(self) -> int:
        return self.z_dim + self.act_dim

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {
            "W_u": (self.u_dim, self.in_dim),
            "B": (self.n_state, self.u_dim),
            "W_o": (self.obs_dim, self.n_state),
            "a_raw": (self.n_state,),
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["z_dim"] = self.z_dim  # derived; written for readers, checked on load
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NanoSSMConfig:
        d = dict(d)
        z_dim = d.pop("z_dim", None)
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"NanoSSMConfig: unknown fields {sorted(unknown)}")
        cfg = cls(**d)
        if z_dim is not None and z_dim != cfg.z_dim:
            raise ValueError(f"NanoSSMConfig: z_dim={z_dim} does not match derived {cfg.z_dim}")
        return cfg


def model_signature(cfg: NanoSSMConfig) -> str:
    """Short sha256 of the canonical JSON config: equal signatures = compatible weights."""
    blob = json.dumps(cfg.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def param_count(cfg: NanoSSMConfig) -> dict[str, int]:
    """Number of scalars per parameter plus ``plastic`` and ``total``."""
    counts = {k: math.prod(s) for k, s in cfg.shapes().items()}
    counts["plastic"] = sum(counts[k] for k in plastic_names)
    counts["total"] = sum(counts[k] for k in param_names)
    return counts


def decay_of(a_raw: Tensor) -> Tensor:
    """exp(−softplus(a_raw)) ∈ (0, 1); computed as a sigmoid so it never rounds to 0 or 1."""
    # exp(-softplus(x)) = 1 / (1 + e^x) = sigmoid(-x); clamp keeps it strictly inside (0, 1)
    # in float32 even for |a_raw| ~ 1e4.
    tiny = torch.finfo(a_raw.dtype).tiny
    return torch.sigmoid(-a_raw).clamp(min=tiny, max=1.0 - torch.finfo(a_raw.dtype).eps)


def init_params(cfg: NanoSSMConfig, seed: int = 0) -> dict[str, Tensor]:
    """Random plastic matrices (scaled orthogonal-ish) and a spread of decays."""
    g = torch.Generator().manual_seed(seed)
    shapes = cfg.shapes()
    params: dict[str, Tensor] = {}
    for name in plastic_names:
        rows, cols = shapes[name]
        w = torch.randn(rows, cols, generator=g) / math.sqrt(cols)
        params[name] = w * cfg.init_scale
    decays = torch.exp(
        torch.linspace(math.log(cfg.decay_min), math.log(cfg.decay_max), cfg.n_state)
    )  # (n,)
    params["a_raw"] = torch.log(1.0 / decays - 1.0)  # inverse of sigmoid(-a_raw)
    return params


def rebalance_gauge(
    params: dict[str, Tensor], ratios: tuple[float, float, float] = (1.0, 10.0, 10.0)
) -> dict[str, Tensor]:
    """Rescale W_u, B, W_o so their spectral norms are in ``ratios``, same function.

    The model has a scale gauge: ``W_u → αW_u, B → βB, W_o → γW_o`` with ``αβγ = 1`` scales
    ``u`` by α and ``h`` by αβ (the recurrence is linear and starts from zero) and leaves
    ``ŷ = W_o h`` unchanged. Pretraining leaves the gauge wherever it drifted, but Muon's
    step is a fixed *spectral* size per matrix, so the gauge decides how large each online
    step is relative to each matrix. Fixing it makes the online step sizes the same for
    every base: with (1, 10, 10) the input map ``W_u`` (where the per-speed-band friction
    coefficients live) moves ten times more, relatively, than ``B`` and ``W_o``.
    ``a_raw`` and any other entry are returned unchanged. Expects a zero initial state (or
    one rescaled by αβ) for exact equality.
    """
    if len(ratios) != 3 or not all(math.isfinite(r) and r > 0 for r in ratios):
        raise ValueError(f"gauge ratios must be three finite numbers > 0, got {ratios!r}")
    norms = [float(torch.linalg.matrix_norm(params[n].double(), ord=2)) for n in plastic_names]
    if not all(math.isfinite(n) and n > 0 for n in norms):
        raise ValueError(f"cannot rebalance matrices with spectral norms {norms}")
    # Common scale s with Π(s·r_i) = Π n_i keeps the product (the function) fixed.
    s = math.exp(sum(math.log(n / r) for n, r in zip(norms, ratios, strict=True)) / 3)
    out = dict(params)
    for name, n, r in zip(plastic_names, norms, ratios, strict=True):
        out[name] = params[name] * (s * r / n)
    return out


def speed_bands(cfg: NanoSSMConfig, speed: Tensor) -> Tensor:
    """Partition of unity over log-speed: (...,) -> (..., n_bands), rows sum to 1.

    Band k is a triangle (hat) centred on θ_k = speed_min·r^k in log-speed; a speed between
    two centres splits linearly between those two bands, and speeds beyond the ends fall
    fully into the end bands. At most two bands are non-zero, so a band never visited has an
    exactly zero feature and gets an exactly zero gradient.
    """
    K = cfg.n_bands
    if K == 1:
        return torch.ones(*speed.shape, 1, dtype=speed.dtype)
    step = math.log(cfg.speed_max / cfg.speed_min) / (K - 1)
    pos = (torch.log(speed.clamp(min=1e-30)) - math.log(cfg.speed_min)) / step  # (...,)
    pos = pos.clamp(0.0, K - 1.0).unsqueeze(-1)  # (..., 1)
    centres = torch.arange(K, dtype=speed.dtype)  # (K,)
    return (1.0 - (pos - centres).abs()).clamp(min=0.0)  # (..., K)


def features(cfg: NanoSSMConfig, obs: Tensor, act: Tensor) -> Tensor:
    """[φ(obs); a / act_scale]: (..., 4), (..., 2) -> (..., in_dim), float32."""
    vel = obs[..., 2:4].to(torch.float32)  # (..., 2)
    v = vel / cfg.vel_scale  # (..., 2)
    bands = speed_bands(cfg, torch.linalg.vector_norm(vel, dim=-1))  # (..., K)
    banded = (v.unsqueeze(-2) * bands.unsqueeze(-1)).flatten(-2)  # (..., 2K)
    a = act.to(torch.float32) / cfg.act_scale  # (..., 2)
    return torch.cat([banded, a], dim=-1)  # (..., z_dim + act_dim)


@dataclass
class ForwardOut:
    """Result of ``forward`` over T steps for S sessions."""

    pred: Tensor  # (T, S, 4) predicted next observation (dtype of obs)
    delta: Tensor  # (T, S, 4) predicted change obs[t+1] - obs[t] (float32)
    h: Tensor  # (T, S, n) hidden state after each step

    @property
    def max_abs_h(self) -> Tensor:
        """(T, S) max |h| per step (computed on demand: training losses never need it)."""
        return self.h.abs().amax(-1)

    @property
    def h_last(self) -> Tensor:
        return self.h[-1]  # (S, n)


def _check_params(params: dict[str, Tensor], cfg: NanoSSMConfig, S: int) -> bool:
    """Validate shapes; returns True when the plastic params are per session."""
    shapes = cfg.shapes()
    batched = {name: params[name].dim() == 3 for name in plastic_names}
    if len(set(batched.values())) != 1:
        raise ValueError("plastic params must be all shared (2-D) or all per session (3-D)")
    is_batched = batched["W_u"]
    for name in plastic_names:
        want = (S, *shapes[name]) if is_batched else shapes[name]
        if tuple(params[name].shape) != want:
            raise ValueError(f"param {name!r} has shape {tuple(params[name].shape)}, want {want}")
    if tuple(params["a_raw"].shape) != shapes["a_raw"]:
        raise ValueError(f"param 'a_raw' has shape {tuple(params['a_raw'].shape)}")
    return is_batched


class _Recurrence(torch.autograd.Function):
    """``h_t = decay * h_{t-1} + b_t`` for t = 0..T-1, as one autograd node.

    A loop of elementwise ops without a graph per step (forward and backward are both one
    pass over time), so training over a long window costs a few hundred small ops instead
    of thousands of graph nodes. Every value is computed elementwise, so it is the same
    whatever the number of sessions S or the split of T into calls.
    """

    @staticmethod
    def forward(ctx: Any, decay: Tensor, b: Tensor, h0: Tensor) -> Tensor:
        T = b.shape[0]
        # The output keeps b's memory layout (no copy): a training window's b is laid out
        # session-major (S, T, n) by the batched matmul, and so is h then, which is what the
        # next matmul wants. Every value is the same elementwise op whatever the layout.
        out = torch.empty_like(b)  # (T, S, n)
        h = h0
        for t in range(T):
            h = torch.add(torch.mul(h, decay), b[t], out=out[t])
        ctx.save_for_backward(decay, out, h0)
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        decay, out, h0 = ctx.saved_tensors
        T = out.shape[0]
        grad_b = torch.empty_like(out)
        g = torch.zeros_like(out[0])
        for t in range(T - 1, -1, -1):
            g = torch.add(torch.mul(g, decay), grad_out[t], out=grad_b[t])  # dL/dh_t
        grad_h0 = grad_b[0] * decay if ctx.needs_input_grad[2] else None
        grad_decay = None
        if ctx.needs_input_grad[0]:
            prev = torch.cat([h0.unsqueeze(0).expand(1, *h0.shape[-2:]), out[:-1]])  # h_{t-1}
            # Contiguous (T, S, n) operands: the reduction order, and so the bits, do not
            # depend on the layout the forward pass happened to get.
            grad_decay = (grad_b.contiguous() * prev.contiguous()).sum(dim=(0, 1))
        return grad_decay, grad_b, grad_h0


def _exact_proj(x: Tensor, w: Tensor) -> Tensor:
    """x (T, S, in) @ w.T per row: w (out, in) shared or (S, out, in) -> (T, S, out).

    Elementwise products summed over ``in`` for each row on its own: a row's value never
    depends on how many rows (steps, sessions) share the call.
    """
    wb = w if w.dim() == 2 else w.unsqueeze(0)  # (out, in) or (1, S, out, in)
    return (x.unsqueeze(-2) * wb).sum(-1)


def _fast_proj(x: Tensor, w: Tensor) -> Tensor:
    """x (T, S, in) @ w.T as matmuls over all T at once -> (T, S, out).

    Per session one (T, in) @ (in, out) product; it runs fastest when ``x.transpose(0, 1)``
    is contiguous (the runner passes its window's features laid out that way)."""
    if w.dim() == 2:
        return x @ w.T
    xs = x.transpose(0, 1)  # (S, T, in)
    if not xs.is_contiguous():
        xs = xs.contiguous()
    return torch.bmm(xs, w.mT).transpose(0, 1)


def forward(
    params: dict[str, Tensor],
    cfg: NanoSSMConfig,
    obs: Tensor,
    act: Tensor,
    h0: Tensor | None = None,
    *,
    exact: bool | None = None,
    x: Tensor | None = None,
) -> ForwardOut:
    """Run the SSM over a sequence.

    obs: (T, S, 4) observations at t; act: (T, S, 2) actions applied at t; h0: (S, n) or
    None (zeros). Returns predictions of obs[t+1] for every t (see ``ForwardOut``).

    ``exact``: True computes every step on its own, so processing a sequence in chunks with
    the carried state equals one pass bit for bit (online predictions need this: a run can
    stop anywhere); False projects all steps with one matmul per session (fast; for a whole
    window in one call: training losses, probes). None: exact unless a graph is built. Both
    give a session the same bits whatever the number of sessions in the batch. ``x``: the
    features ``features(cfg, obs, act)`` when the caller already has them (a training window
    is run many times per update).
    """
    if obs.dim() != 3 or obs.shape[-1] != cfg.obs_dim or act.shape != (*obs.shape[:2], 2):
        raise ValueError(f"need obs (T, S, 4) and act (T, S, 2), got {obs.shape}, {act.shape}")
    S = obs.shape[1]
    _check_params(params, cfg, S)
    h = torch.zeros(S, cfg.n_state) if h0 is None else h0
    x = features(cfg, obs, act) if x is None else x  # (T, S, in)
    decay = decay_of(params["a_raw"])  # (n,)
    W_u, B, W_o = params["W_u"], params["B"], params["W_o"]
    if exact is None:
        exact = not (
            torch.is_grad_enabled() and any(params[n].requires_grad for n in plastic_names)
        )
    proj = _exact_proj if exact else _fast_proj
    # B W_u as one (n, in) map per session: fewer products per step than x -> u -> b, and a
    # training window's backward never needs the (T, u) intermediate.
    M = B @ W_u  # (n, in) or (S, n, in)
    b_all = proj(x, M)  # (T, S, n)
    h_all = _Recurrence.apply(decay, b_all, h.expand(S, cfg.n_state))  # (T, S, n)
    y = proj(h_all, W_o)  # (T, S, 4)
    vel = obs[..., 2:4].to(torch.float32)  # (T, S, 2)
    if cfg.action_skip:
        acc = act.to(torch.float32)  # (T, S, 2)
        skip = torch.cat([vel + acc, acc], dim=-1)  # (T, S, 4): frictionless p + v + a, v + a
    else:
        skip = torch.cat([vel, torch.zeros_like(vel)], dim=-1)  # (T, S, 4): p + v, v
    delta = skip + cfg.out_scale * y  # (T, S, 4)
    pred = obs + delta.to(obs.dtype)
    return ForwardOut(pred=pred, delta=delta, h=h_all)


def target_delta(obs: Tensor) -> Tensor:
    """obs (T+1, S, 4) -> observed change obs[t+1] - obs[t] (T, S, 4) in float32.

    The difference is taken in the observation dtype (float64 from the env) before the cast,
    so large positions cost no precision.
    """
    return (obs[1:] - obs[:-1]).to(torch.float32)


def mse_per_step(out: ForwardOut, obs: Tensor) -> Tensor:
    """Squared error of the predicted next observation, mean over the 4 dims: (T, S).

    obs: (T+1, S, 4) — the inputs obs[:-1] and the targets obs[1:].
    """
    return (out.delta - target_delta(obs)).pow(2).mean(-1)


def mean_over_time(per_step: Tensor, mask: Tensor | None = None) -> Tensor:
    """Per-session mean over time of a (T, S) tensor (over steps where ``mask`` (T,) holds):
    (S,). Each session's row is reduced on its own (contiguous), so its value does not
    depend on the number of sessions."""
    x = per_step if mask is None else per_step[mask]
    return x.transpose(0, 1).contiguous().mean(1)


def mse_per_session(out: ForwardOut, obs: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean over time (optionally over steps where ``mask`` (T,) is True): (S,)."""
    return mean_over_time(mse_per_step(out, obs), mask)
