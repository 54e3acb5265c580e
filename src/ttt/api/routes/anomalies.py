"""The anomaly review queue: the last scan with review states, a new scan, a decision."""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Query

from ttt.api.deps import Store
from ttt.api.models.anomalies import (
    AnomalyQueue,
    Finding,
    Kind,
    ReviewRequest,
    ReviewStateName,
    ScanRequest,
)
from ttt.api.models.common import ERROR_RESPONSES
from ttt.review import REVIEW_STATES, review_queue, scan, set_review
from ttt.safety.anomaly import AnomalyConfig
from ttt.store import ArtifactStore, validate_id

router = APIRouter(prefix="/api/anomalies", tags=["anomalies"], responses=ERROR_RESPONSES)


def _queue(
    doc: dict[str, Any] | None, state: str | None, kind: str | None, limit: int
) -> AnomalyQueue:
    if doc is None:
        return AnomalyQueue(scan=None, items=[], total=0, states={})
    findings = doc["findings"]
    states = {s: 0 for s in REVIEW_STATES}
    for f in findings:
        states[f["review"]["state"]] += 1
    chosen = [
        f
        for f in findings
        if (state is None or f["review"]["state"] == state) and (kind is None or f["kind"] == kind)
    ]
    info = {k: v for k, v in doc.items() if k not in ("findings", "texts")}
    return AnomalyQueue.model_validate(
        {"scan": info, "items": chosen[:limit], "total": len(chosen), "states": states}
    )


@router.get("", response_model=AnomalyQueue)
async def get_queue(
    store: Store,
    state: Annotated[ReviewStateName | None, Query(description="Only this state.")] = None,
    kind: Annotated[Kind | None, Query(description="Only findings of this domain.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> AnomalyQueue:
    """The last scan's findings, highest score first, each with its review state."""
    if state is not None and state not in REVIEW_STATES:
        raise ValueError(f"state must be one of {', '.join(REVIEW_STATES)}, got {state!r}")
    if kind is not None and kind not in ("nano", "sentry", "chat"):
        raise ValueError(f"kind must be nano, sentry or chat, got {kind!r}")
    doc = await to_thread.run_sync(review_queue, store)
    return _queue(doc, state, kind, limit)


def _scan(store: ArtifactStore, body: ScanRequest) -> dict[str, Any] | None:
    cfg = AnomalyConfig(
        method=body.method,
        top=body.top,
        explain_z=body.explain_z,
        burst_window=body.burst_window,
        seed=body.seed,
    )
    scan(store, cfg, tuple(body.kinds))
    return review_queue(store)


@router.post("/scan", response_model=AnomalyQueue)
async def run_scan(body: ScanRequest, store: Store) -> AnomalyQueue:
    """Score every update log now (in a worker thread) and return the new queue; review
    decisions of earlier scans are kept (by the attempt's key)."""
    doc = await to_thread.run_sync(_scan, store, body)
    return _queue(doc, None, None, 200)


@router.post("/{finding_id}/review", response_model=Finding)
async def review(finding_id: str, body: ReviewRequest, store: Store) -> Finding:
    """Mark a finding reviewed, dismissed, flagged (its text becomes a red-team seed in
    flagged_prompts.json) or open again."""
    fid = validate_id(finding_id, what="finding id")
    f = await to_thread.run_sync(set_review, store, fid, body.state, body.note)
    return Finding.model_validate(f)
