"""A session's weight history: records, matrices at update k, statistics, spectra, deltas.

Fixed paths (``stats``, ``delta``) are declared before ``/{k}`` so they are not read as k.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ttt.api.deps import Ctx, SessionId, Store
from ttt.api.models.common import ERROR_RESPONSES
from ttt.api.models.weights import (
    SpectrumOut,
    WeightDelta,
    WeightHistory,
    WeightsAt,
    WeightStats,
)
from ttt.api.readers import session_dir
from ttt.api.responses import json_response
from ttt.api.weight_math import (
    as_matrix,
    history_stats,
    record_at,
    single_stats,
    spectrum,
    weights_of,
)
from ttt.nano import session as nano_session
from ttt.store import ArtifactStore

router = APIRouter(
    prefix="/api/sessions/{session_id}/weights", tags=["weights"], responses=ERROR_RESPONSES
)


def _history(store: ArtifactStore, session_id: str) -> list[dict[str, Any]]:
    session_dir(store, session_id)
    return nano_session.weight_history(store, session_id)


@router.get("", response_model=WeightHistory)
def history(session_id: SessionId, store: Store) -> WeightHistory:
    """One record per committed update k (k = 0 is the session's start)."""
    return WeightHistory.model_validate({"items": _history(store, session_id)})


@router.get("/stats", response_model=WeightStats)
def stats(
    session_id: SessionId,
    ctx: Ctx,
    points: Annotated[
        int | None, Query(ge=2, description="Keep about this many updates (evenly spaced).")
    ] = None,
) -> Response:
    """Frobenius norm, max |w|, mean and std of each matrix at every committed update."""
    path = session_dir(ctx.store, session_id) / "weights" / "history.jsonl"
    out = ctx.big.get(
        "weight-stats", path, lambda _: history_stats(ctx.store, _history(ctx.store, session_id))
    )
    n = len(out["k"])
    if points is not None and n > points:
        step = -(-n // points)
        idx = sorted({*range(0, n, step), n - 1})
        out = {
            "k": [out["k"][i] for i in idx],
            "t": [out["t"][i] for i in idx],
            "stats": {
                name: {s: [v[i] for i in idx] for s, v in st.items()}
                for name, st in out["stats"].items()
            },
        }
    return json_response(out)


@router.get("/delta", response_model=WeightDelta)
def delta(
    session_id: SessionId,
    store: Store,
    from_k: Annotated[int, Query(ge=0)],
    to_k: Annotated[int | None, Query(ge=0, description="Latest update when omitted.")] = None,
) -> WeightDelta:
    hist = _history(store, session_id)
    a, b = record_at(hist, from_k), record_at(hist, to_k)
    wa, wb = weights_of(store, a), weights_of(store, b)
    diff = {name: wb[name].double() - wa[name].double() for name in wb if name in wa}
    return WeightDelta.model_validate(
        {
            "from_k": a["k"],
            "to_k": b["k"],
            "matrices": {n: as_matrix(d) for n, d in diff.items()},
            "stats": {n: single_stats(d) for n, d in diff.items()},
        }
    )


@router.get("/{k}", response_model=WeightsAt)
def weights_at(session_id: SessionId, k: int, store: Store) -> WeightsAt:
    rec = record_at(_history(store, session_id), k)
    w = weights_of(store, rec)
    return WeightsAt.model_validate(
        {"k": rec["k"], "t": rec["t"], "matrices": {n: as_matrix(x) for n, x in w.items()}}
    )


@router.get("/{k}/spectrum", response_model=SpectrumOut)
def weights_spectrum(session_id: SessionId, k: int, store: Store) -> SpectrumOut:
    """Singular values (descending) and condition number of each matrix at update k."""
    rec = record_at(_history(store, session_id), k)
    w = weights_of(store, rec)
    return SpectrumOut.model_validate(
        {"k": rec["k"], "t": rec["t"], "matrices": {n: spectrum(x) for n, x in w.items()}}
    )
