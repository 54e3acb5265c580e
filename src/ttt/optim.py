"""Optimiser helpers: Muon for 2-D matrices (``torch.optim.Muon``), AdamW for the rest.

Two pieces live here:

* ``split_params`` / ``make_optimizers``: the standard grouping used by every trainer in
  the project (2-D hidden matrices go to ``torch.optim.Muon``; embeddings, heads, norms,
  vectors go to AdamW).
* ``batched_muon_step``: the same Muon math as ``torch.optim.Muon`` applied to a *stack* of
  independent per-session matrices ``(S, rows, cols)`` in one call. Sweeps use it so that
  256 Nano sessions update together; ``tests/test_optim.py`` checks it against
  ``torch.optim.Muon`` on each matrix separately.

Facts about ``torch.optim.Muon`` (torch >= 2.9) designed around: it accepts 2-D params
only; its default ``weight_decay=0.1`` pulls fast weights to zero (we default to 0); its
Newton-Schulz iteration runs in bfloat16 (the batched one here in float32); its lr is
scaled by ``sqrt(max(1, rows/cols))``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from ttt.configs import check_bool, check_float, check_int

# torch.optim.Muon's defaults (torch/optim/_muon.py), repeated so the batched path matches.
NS_COEFFICIENTS: tuple[float, float, float] = (3.4445, -4.7750, 2.0315)
NS_EPS = 1e-7


@dataclass
class MuonConfig:
    """Hyperparameters of a Muon optimiser over fast weights."""

    lr: float = 0.02
    momentum: float = 0.95
    nesterov: bool = True
    ns_steps: int = 5
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        check_float("MuonConfig.lr", self.lr, lo=0.0, hi=10.0)
        check_float("MuonConfig.momentum", self.momentum, lo=0.0, hi=1.0, hi_open=True)
        check_bool("MuonConfig.nesterov", self.nesterov)
        check_int("MuonConfig.ns_steps", self.ns_steps, lo=1, hi=99)
        # lr * weight_decay >= 1 would flip the weights' sign at every step.
        check_float("MuonConfig.weight_decay", self.weight_decay, lo=0.0, hi=1.0, hi_open=True)

    def to_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)

    def make(self, params: Iterable[Tensor]) -> torch.optim.Muon:
        return torch.optim.Muon(
            list(params),
            lr=self.lr,
            momentum=self.momentum,
            nesterov=self.nesterov,
            ns_steps=self.ns_steps,
            weight_decay=self.weight_decay,
        )


def split_params(
    named: Iterable[tuple[str, Tensor]], *, adamw_names: Iterable[str] = ()
) -> tuple[list[Tensor], list[Tensor]]:
    """Split parameters into (muon, adamw): 2-D matrices to Muon unless named in adamw_names."""
    force_adamw = tuple(adamw_names)
    muon: list[Tensor] = []
    adamw: list[Tensor] = []
    for name, p in named:
        if not p.requires_grad:
            continue
        if p.ndim == 2 and not any(name.startswith(prefix) for prefix in force_adamw):
            muon.append(p)
        else:
            adamw.append(p)
    return muon, adamw


def muon_lr_scale(rows: int, cols: int) -> float:
    """``torch.optim.Muon``'s default ("original") lr adjustment."""
    return math.sqrt(max(1.0, rows / cols))


def zeropower_via_newtonschulz_batched(g: Tensor, ns_steps: int = 5, eps: float = NS_EPS) -> Tensor:
    """Orthogonalise each matrix of ``g`` (S, rows, cols) with torch.optim.Muon's iteration.

    In float32, where torch.optim.Muon uses bfloat16 (a GPU speed trick): on a CPU float32
    is several times faster, and its batched matmuls give each matrix the same bits whatever
    the batch size (bfloat16 batched matmuls do not), so a sweep's session equals the same
    session run alone.
    """
    a, b, c = NS_COEFFICIENTS
    x = g.float()
    transposed = g.size(-2) > g.size(-1)
    if transposed:
        x = x.mT
    x = x / x.norm(dim=(-2, -1), keepdim=True).clamp(min=eps)  # per-matrix Frobenius norm
    for _ in range(ns_steps):
        gram = x @ x.mT  # (S, r, r)
        gram_update = torch.baddbmm(gram, gram, gram, beta=b, alpha=c)
        x = torch.baddbmm(x, gram_update, x, beta=a)
    if transposed:
        x = x.mT
    return x


@torch.no_grad()
def batched_muon_step(
    param: Tensor,
    grad: Tensor,
    buf: Tensor,
    lr: Tensor,
    cfg: MuonConfig,
) -> None:
    """One Muon step on a stack of independent matrices, in place.

    param, grad, buf: (S, rows, cols); lr: (S,) per-session learning rate.
    Matches torch.optim.Muon: buf <- lerp(buf, grad, 1-m); update = NS(nesterov mix);
    param *= 1 - lr*wd; param -= lr*scale*update (NS in float32, see above).
    """
    if param.ndim != 3 or grad.shape != param.shape or buf.shape != param.shape:
        raise ValueError(f"batched_muon_step needs (S, rows, cols) tensors, got {param.shape}")
    buf.lerp_(grad, 1 - cfg.momentum)
    update = grad.lerp(buf, cfg.momentum) if cfg.nesterov else buf
    ortho = zeropower_via_newtonschulz_batched(update, cfg.ns_steps)
    lr3 = lr.to(param.dtype).view(-1, 1, 1)  # (S, 1, 1)
    if cfg.weight_decay:
        param.mul_(1 - lr3 * cfg.weight_decay)
    scale = muon_lr_scale(param.size(-2), param.size(-1))
    param.sub_(ortho.to(param.dtype) * (lr3 * scale))
