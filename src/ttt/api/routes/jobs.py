"""Jobs: list, one, cancel, progress stream (SSE)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from ttt.api.contract import sse_responses
from ttt.api.deps import Jobs
from ttt.api.models.common import ERROR_RESPONSES
from ttt.api.models.jobs import Job, JobList, JobStreamEvents
from ttt.api.sse import SSE_HEADERS, job_stream
from ttt.store import validate_id

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses=ERROR_RESPONSES)


@router.get("", response_model=JobList)
def list_jobs(
    jobs: Jobs,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    status: Annotated[str | None, Query(description="Only jobs with this status.")] = None,
) -> JobList:
    """Newest first."""
    items = jobs.list_jobs()
    if status is not None:
        items = [j for j in items if j["status"] == status]
    page = [Job.model_validate(j) for j in items[offset : offset + limit]]
    return JobList(items=page, total=len(items))


@router.get("/{job_id}", response_model=Job)
def get_job(job_id: str, jobs: Jobs) -> Job:
    return Job.model_validate(jobs.get(validate_id(job_id, what="job id")))


@router.post("/{job_id}/cancel", response_model=Job)
def cancel_job(job_id: str, jobs: Jobs) -> Job:
    """Ask the job to stop; it is terminated if it has not stopped after the grace period."""
    return Job.model_validate(jobs.cancel(validate_id(job_id, what="job id")))


@router.get(
    "/{job_id}/stream",
    response_class=StreamingResponse,
    responses=sse_responses(
        JobStreamEvents,
        "text/event-stream: `progress` events, then one `done` event with "
        "the final job (the schema lists the data of each event name).",
    ),
)
async def stream_job(job_id: str, jobs: Jobs, request: Request) -> StreamingResponse:
    jid = validate_id(job_id, what="job id")
    jobs.get(jid)  # 404 before the stream starts
    return StreamingResponse(
        job_stream(jobs, jid, request.is_disconnected),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )
