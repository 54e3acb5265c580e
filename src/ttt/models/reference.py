"""A model's own training-distribution reference for chunk-level signals.

The gate's OOD-plus-heavy-write rule asks "is this chunk's loss unusual *for this model*?" and
"is its write pressure unusual?". Both need a reference measured on the model's held-out
split at the Sentry chunk length with a fresh (zero) context net: the median and the MAD of
the per-chunk loss and of the plastic-parameter gradient norm. It is computed at the end of
training and stored in the model's ``meta.json`` (``reference``); for older models the Sentry
computes it on the fly from the stored validation tokens.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from ttt.engine.checks import MAD_TO_SIGMA
from ttt.models.corpus import TokenBuffer
from ttt.models.tinylm import TinyLm


def scalar_robust_z(value: float, median: float, mad: float) -> float:
    """``(value - median) / scale``, ``scale = max(1.4826 MAD, 1e-3 |median|, 1e-12)`` (the
    floors keep a flat distribution from dividing by zero)."""
    return (value - median) / max(MAD_TO_SIGMA * mad, 1e-3 * abs(median), 1e-12)


def reference_z(value: float, entry: Mapping[str, Any] | None) -> float | None:
    """Robust z of ``value`` against a reference entry ``{median, mad}``; None without one."""
    med, mad = (entry or {}).get("median"), (entry or {}).get("mad")
    if med is None or mad is None or not math.isfinite(med) or not math.isfinite(mad):
        return None
    return scalar_robust_z(value, med, mad)


def robust_center_scale(values: list[float]) -> dict[str, float]:
    """Median, MAD and count of ``values`` (finite entries only)."""
    v = torch.tensor([x for x in values if x == x and abs(x) != float("inf")], dtype=torch.float64)
    if v.numel() == 0:
        return {"median": float("nan"), "mad": float("nan"), "n": 0}
    med = v.median()
    return {"median": float(med), "mad": float((v - med).abs().median()), "n": int(v.numel())}


def chunk_reference(
    model: TinyLm, buf: TokenBuffer, *, chunk_tokens: int = 128, n_windows: int = 64
) -> dict[str, Any]:
    """Per-chunk loss and plastic gradient norm on fixed held-out windows (fresh context)."""
    work = copy.deepcopy(model).cpu().eval()  # never touch the caller's grads or context
    work.reset_context()
    work.freeze_core()
    plastic = list(work.plastic_parameters().values())
    n = min(n_windows, max(1, len(buf) - chunk_tokens - 1))
    starts = buf.eval_starts(n, chunk_tokens)
    x, y = buf.windows(starts, chunk_tokens)  # (N, T) each
    losses: list[float] = []
    norms: list[float] = []
    for i in range(x.shape[0]):
        logits, _ = work(x[i : i + 1])  # (1, T, V)
        loss = F.cross_entropy(logits[0], y[i])
        grads = torch.autograd.grad(loss, plastic)
        losses.append(float(loss.detach()))
        norms.append(float(torch.stack([g.double().pow(2).sum() for g in grads]).sum().sqrt()))
    return {
        "chunk_tokens": chunk_tokens,
        "n_windows": len(losses),
        "loss": robust_center_scale(losses),
        "grad_norm": robust_center_scale(norms),
    }
