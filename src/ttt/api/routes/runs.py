"""A run's data: per-step series (downsampled), CSV export, update events, trajectory."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse

from ttt.api.deps import Ctx, RunId, SessionId
from ttt.api.models.common import ERROR_RESPONSES
from ttt.api.models.runs import EventList, PerStepWindow, Trajectory, UpdateEvent
from ttt.api.readers import (
    EVENT_SORT_KEYS,
    event_counts,
    load_events,
    load_trajectory,
    run_dir,
    run_file,
    sort_events,
    sort_values,
)
from ttt.api.responses import json_response
from ttt.api.series import downsample
from ttt.store import NotFoundError

router = APIRouter(
    prefix="/api/sessions/{session_id}/runs", tags=["runs"], responses=ERROR_RESPONSES
)

Start = Annotated[int | None, Query(ge=0, description="First t (inclusive).")]
End = Annotated[int | None, Query(ge=0, description="Last t (exclusive).")]


def _bucket(stats: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    mn, mx, mean = stats
    return {"min": mn.tolist(), "max": mx.tolist(), "mean": mean.tolist()}


@router.get("/{run_id}/per_step", response_model=PerStepWindow)
def per_step(
    session_id: SessionId,
    run_id: RunId,
    ctx: Ctx,
    start: Start = None,
    end: End = None,
    points: Annotated[int, Query(ge=1, le=20_000, description="Most buckets to return.")] = 2000,
    ema_alpha: Annotated[float, Query(gt=0, le=1, description="EMA smoothing factor.")] = 0.05,
) -> Response:
    """Rows with t in [start, end) reduced to at most ``points`` min/max/mean buckets
    (exact rows when bucket == 1). EMAs are debiased and computed on the full-resolution
    run before downsampling."""
    table = ctx.series.per_step(run_file(ctx.store, session_id, run_id, "per_step.csv"))
    w = downsample(table, start=start, end=end, points=points, ema_alpha=ema_alpha)
    n = len(table)
    t_first = int(table.t[0]) if n else None
    t_last = int(table.t[-1]) if n else None
    t_stop = t_last + 1 if t_last is not None else 0
    return json_response(
        {
            "run_id": run_id,
            "start": start if start is not None else (t_first if t_first is not None else 0),
            "end": end if end is not None else t_stop,
            "total": n,
            "rows": w.hi - w.lo,
            "bucket": w.bucket,
            "t": w.t.tolist(),
            "series": {name: _bucket(stats) for name, stats in w.series.items()},
            "updates": [
                {"t": t, "status": st}
                for t, st in zip(w.update_t.tolist(), w.update_status, strict=True)
            ],
            "updates_total": w.updates_total,
            "t_first": t_first,
            "t_last": t_last,
            "ema_alpha": ema_alpha,
        }
    )


@router.get(
    "/{run_id}/per_step.csv",
    response_class=FileResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The run's per_step.csv."}},
)
def per_step_csv(session_id: SessionId, run_id: RunId, ctx: Ctx) -> FileResponse:
    path = run_file(ctx.store, session_id, run_id, "per_step.csv")
    return FileResponse(path, media_type="text/csv", filename=f"{session_id}_{run_id}_per_step.csv")


@router.get("/{run_id}/events", response_model=EventList)
def events(
    session_id: SessionId,
    run_id: RunId,
    ctx: Ctx,
    status: Annotated[
        list[str] | None,
        Query(description="Only these statuses (repeat the parameter or comma-separate)."),
    ] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 100,
    sort: Annotated[
        str,
        Query(
            description="A field; '-' prefix = descending.",
            json_schema_extra={"enum": sort_values(EVENT_SORT_KEYS)},
        ),
    ] = "t",
    start: Start = None,
    end: End = None,
) -> EventList:
    """Events with t in [start, end) and one of ``status`` (all when omitted), sorted and
    paginated; ``counts`` are over the whole run."""
    all_events = load_events(ctx.big, run_file(ctx.store, session_id, run_id, "update_events.json"))
    wanted = {s for item in status or [] for s in item.split(",") if s}
    chosen = [e for e in all_events if e.get("status") in wanted] if wanted else all_events
    if start is not None or end is not None:
        lo = -1 if start is None else start
        hi = None if end is None else end
        chosen = [e for e in chosen if e["t"] >= lo and (hi is None or e["t"] < hi)]
    if sort != "t":
        chosen = sort_events(chosen, sort)
    page = [UpdateEvent.model_validate(e) for e in chosen[offset : offset + limit]]
    return EventList(items=page, total=len(chosen), counts=event_counts(all_events))


@router.get("/{run_id}/trajectory", response_model=Trajectory)
def trajectory(
    session_id: SessionId,
    run_id: RunId,
    ctx: Ctx,
    start: Start = None,
    end: End = None,
    points: Annotated[int, Query(ge=1, le=100_000, description="Most rows to return.")] = 5000,
) -> Response:
    """Observations, actions, mu and both models' predictions for t in [start, end), every
    ``stride``-th step so that at most ``points`` rows come back."""
    rd = run_dir(ctx.store, session_id, run_id)
    if not any((rd / f).is_file() for f in ("trajectory.safetensors", "trajectory.json")):
        raise NotFoundError(f"run {run_id!r} of session {session_id!r} has no trajectory (yet)")
    t0, stored_stride, arrays = load_trajectory(ctx.files, ctx.big, rd)
    n = next(iter(arrays.values())).shape[0] if arrays else 0
    ts = t0 + stored_stride * np.arange(n, dtype=np.int64)
    lo = 0 if start is None else int(np.searchsorted(ts, start, side="left"))
    hi = n if end is None else int(np.searchsorted(ts, end, side="left"))
    hi = max(lo, hi)
    step = max(1, -(-(hi - lo) // points))
    sel = slice(lo, hi, step)

    def rows(name: str) -> list[Any]:
        a = arrays.get(name)
        return [] if a is None else a[sel].tolist()

    mu = arrays.get("mu")
    obs = arrays.get("obs")
    next_obs: list[Any] = []
    if obs is not None and stored_stride == 1:
        # the target of row i's predictions is the observation one step later
        idx = np.arange(n, dtype=np.int64)[sel] + 1
        nxt = obs[np.minimum(idx, n - 1)].tolist()
        next_obs = [row if i < n else None for i, row in zip(idx.tolist(), nxt, strict=True)]
    return json_response(
        {
            "t": ts[sel].tolist(),
            "obs": rows("obs"),
            "actions": rows("actions"),
            "mu": [] if mu is None else mu.reshape(n, -1)[sel, 0].tolist(),
            "pred_baseline": rows("pred_baseline"),
            "pred_adaptive": rows("pred_adaptive"),
            "next_obs": next_obs,
            "stride": step * stored_stride,
            "total": n * stored_stride,
        }
    )
