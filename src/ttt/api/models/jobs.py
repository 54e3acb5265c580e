"""Jobs: long work running in worker processes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

JobStatus = Literal["queued", "running", "completed", "failed", "cancelled", "interrupted"]


class JobProgress(BaseModel):
    done: int = 0
    total: int = 0


class Job(BaseModel):
    job_id: str
    kind: str = Field(
        description="pretrain_base | create_session | run_session | fork_session | run_sweep "
        "| train_lm | sentry_run | redteam | sleep"
    )
    status: JobStatus
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="What the job was asked to do, including ids assigned up front "
        "(session_id, run_id, new_session_id, sweep_id, base_id).",
    )
    progress: JobProgress = Field(default_factory=JobProgress)
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    cancel_requested: bool = False


class JobList(BaseModel):
    items: list[Job]
    total: int


class JobProgressEvent(BaseModel):
    """Data of the SSE ``progress`` event of /api/jobs/{id}/stream."""

    job_id: str
    status: JobStatus
    done: int
    total: int


class JobStreamEvents(BaseModel):
    """Documentation only: the data carried by each SSE event name of the job stream."""

    progress: JobProgressEvent
    done: Job
