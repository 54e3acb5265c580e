"""A run's data: per-step series, update events, trajectory, live stream payloads."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class BucketSeries(BaseModel):
    """Per bucket: min, max and mean of the rows in it (all equal when bucket == 1)."""

    min: list[float | None]
    max: list[float | None]
    mean: list[float | None]


class PerStepSeries(BaseModel):
    baseline_mse: BucketSeries
    adaptive_mse: BucketSeries
    frozen_mse: BucketSeries | None = None
    oracle_mse: BucketSeries | None = None
    baseline_ema: BucketSeries
    adaptive_ema: BucketSeries


class UpdateMarker(BaseModel):
    t: int
    status: str


class PerStepWindow(BaseModel):
    run_id: str
    start: int = Field(description="First t of the window (inclusive).")
    end: int = Field(description="End of the window (exclusive).")
    total: int = Field(description="Rows in the whole run.")
    rows: int = Field(0, description="Rows in the window [start, end).")
    bucket: int = Field(description="Rows per bucket; 1 = exact rows.")
    t: list[int] = Field(description="First t of each bucket.")
    series: PerStepSeries
    updates: list[UpdateMarker] = Field(
        description="All updates in the window when bucket == 1; otherwise the first update "
        "of each status in each bucket (rollbacks never hide behind commits)."
    )
    updates_total: int = Field(description="Updates in the window before thinning.")
    t_first: int | None = Field(description="First t of the run.")
    t_last: int | None = Field(description="Last t of the run.")
    ema_alpha: float


class UpdateEvent(BaseModel):
    """One attempted write (update_events.json); unknown fields pass through."""

    model_config = ConfigDict(extra="allow")

    t: int
    index: int | None = None
    status: str
    reasons: list[str] = Field(default_factory=list)
    pre_loss: float | None = None
    post_loss: float | None = None
    train_loss: float | None = None
    grad_norm: float | None = None
    grad_norm_z: float | None = None
    pre_max_h: float | None = None
    post_max_h: float | None = None
    lr: float | None = None
    update_norm: float | None = None
    checks: list[dict[str, Any]] = Field(default_factory=list)
    probes_pre: dict[str, float | None] = Field(default_factory=dict)
    probes_post: dict[str, float | None] = Field(default_factory=dict)
    projection: dict[str, Any] | None = None
    gate: dict[str, Any] | None = None
    duration_ms: float | None = None
    run_id: str | None = None
    commit_index: int | None = None


class EventList(BaseModel):
    items: list[UpdateEvent]
    total: int = Field(description="Events matching the filter (status and t window).")
    counts: dict[str, int] = Field(description="Events per status in the whole run.")


class Trajectory(BaseModel):
    t: list[int]
    obs: list[list[float]] = Field(description="[x, y, vx, vy] per kept step.")
    actions: list[list[float]]
    mu: list[float]
    pred_baseline: list[list[float]] = Field(
        description="Prediction made at t of the state at t + 1 (compare with next_obs)."
    )
    pred_adaptive: list[list[float]]
    next_obs: list[list[float] | None] = Field(
        default_factory=list,
        description="The state at t + 1 that each row's predictions are for (null after the "
        "run's last step; empty when the stored trajectory is strided).",
    )
    stride: int = Field(description="Steps between kept rows.")
    total: int = Field(description="Steps in the whole run.")


class LiveRows(BaseModel):
    """SSE ``rows``: per_step rows [t, baseline_mse, adaptive_mse, frozen_mse, oracle_mse,
    did_update, update_ok, status, mu]."""

    rows: list[list[Any]]
    t_end: int | None = None


class LiveStatus(BaseModel):
    """SSE ``status``: the run followed and its state; ``idle`` when none is running."""

    run_id: str | None = None
    status: str
    t_end: int | None = None


class LiveStreamEvents(BaseModel):
    """Documentation only: the data of each SSE event name of /api/sessions/{id}/live."""

    rows: LiveRows
    event: UpdateEvent
    status: LiveStatus
