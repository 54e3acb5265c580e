"""Statistics of a session's weight history (committed updates), vectorised per segment.

The history stores committed weights in content-addressed *segments* (stacked tensors,
one row per update), so statistics over all updates read each segment once.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ttt.store import ArtifactStore, NotFoundError


def record_at(history: list[dict[str, Any]], k: int | None) -> dict[str, Any]:
    if not history:
        raise NotFoundError("this session has no weight history")
    if k is None:
        return history[-1]
    for rec in history:
        if rec["k"] == k:
            return rec
    raise NotFoundError(
        f"no committed update k={k} (this session has k = {history[0]['k']}..{history[-1]['k']})"
    )


def matrix_stats(x: Tensor) -> dict[str, Tensor]:
    """Per leading index of ``x`` (m, ...): Frobenius norm, max |w|, mean, std (ddof 0)."""
    flat = x.reshape(x.shape[0], -1).double()
    return {
        "fro": flat.pow(2).sum(1).sqrt(),
        "max_abs": flat.abs().amax(1),
        "mean": flat.mean(1),
        "std": flat.std(1, correction=0),
    }


def history_stats(store: ArtifactStore, history: list[dict[str, Any]]) -> dict[str, Any]:
    """{k, t, stats: {name: {fro, max_abs, mean, std}}} over every history record."""
    order: list[tuple[tuple[tuple[str, str], ...], list[int]]] = []
    groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for i, rec in enumerate(history):
        key = tuple(sorted(rec["segment"].items()))
        if key not in groups:
            groups[key] = []
            order.append((key, groups[key]))
        groups[key].append(i)
    n = len(history)
    out: dict[str, dict[str, Tensor]] = {}
    for key, idxs in order:
        tensors = store.get_tensor_dict(dict(key))
        rows = torch.tensor([int(history[i]["row"]) for i in idxs])
        at = torch.tensor(idxs)
        for name in sorted(tensors):
            stats = matrix_stats(tensors[name][rows])
            nan = torch.full((n,), float("nan"), dtype=torch.float64)
            dst = out.setdefault(name, {s: nan.clone() for s in stats})
            for s, v in stats.items():
                dst[s][at] = v
    return {
        "k": [int(r["k"]) for r in history],
        "t": [int(r["t"]) for r in history],
        "stats": {name: {s: v.tolist() for s, v in st.items()} for name, st in out.items()},
    }


def weights_of(store: ArtifactStore, rec: dict[str, Any]) -> dict[str, Tensor]:
    tensors = store.get_tensor_dict(rec["segment"])
    return {name: tensors[name][int(rec["row"])] for name in sorted(tensors)}


def as_matrix(x: Tensor) -> dict[str, Any]:
    return {"shape": list(x.shape), "data": x.detach().double().reshape(-1).tolist()}


def spectrum(x: Tensor) -> dict[str, Any]:
    m = x.double()
    if m.ndim != 2:
        m = m.reshape(1, -1)
    s = torch.linalg.svdvals(m)
    smin, smax = float(s.min()), float(s.max())
    return {"singular_values": s.tolist(), "condition_number": smax / smin if smin > 0 else None}


def single_stats(x: Tensor) -> dict[str, float]:
    return {k: float(v[0]) for k, v in matrix_stats(x.unsqueeze(0)).items()}
