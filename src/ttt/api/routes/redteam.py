"""Red-team runs: list, detail, iterations, attempts (paginated, ``success=`` filter), a live
SSE stream, and starting an attack (a ``redteam`` job).

The files are read as ``ttt.redteam`` writes them (``redteam/<run_id>/request.json``,
``iterations.jsonl``, ``attempts.jsonl``, ``summary.json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from ttt.api.contract import sse_responses
from ttt.api.deps import Ctx, Jobs
from ttt.api.errors import user_config
from ttt.api.models.common import ERROR_RESPONSES, ItemError
from ttt.api.models.jobs import Job
from ttt.api.models.redteam import (
    RedTeamAttempt,
    RedTeamAttempts,
    RedTeamDetail,
    RedTeamIteration,
    RedTeamIterations,
    RedTeamList,
    RedTeamRequestInfo,
    RedTeamStarted,
    RedTeamStartRequest,
    RedTeamStreamDoc,
    RedTeamSummary,
)
from ttt.api.routes.text_runs import (
    RUNNING,
    FolderTail,
    StoredRun,
    TailLog,
    effective,
    job_for_run,
    read_doc,
    read_log,
    usable_model,
)
from ttt.api.sse import SSE_HEADERS
from ttt.jobs import JobManager
from ttt.models import registry
from ttt.store import (
    ArtifactStore,
    NotFoundError,
    StoreError,
    new_id,
    validate_id,
)

router = APIRouter(prefix="/api/redteam", tags=["redteam"], responses=ERROR_RESPONSES)

KIND = "redteam"
JOB_KIND = "redteam"


def _rid(run_id: str) -> str:
    return validate_id(run_id, what="red-team run id")


def load_run(ctx: Ctx, run_id: str) -> StoredRun:
    d = ctx.store.item_dir(KIND, run_id, must_exist=True)
    what = f"red-team run {run_id!r}"
    return StoredRun(
        read_doc(ctx.files, d / "request.json", what), read_doc(ctx.files, d / "summary.json", what)
    )


def _defence(request: Mapping[str, Any]) -> Mapping[str, Any]:
    sc = request.get("sentry_config")
    return sc if isinstance(sc, Mapping) else {}


def summarize(
    run_id: str, request: Mapping[str, Any], summary: Mapping[str, Any], job: Any = None
) -> RedTeamSummary:
    status, error = effective(summary, job)
    keys = RedTeamSummary.model_fields
    fields = {k: v for k, v in {**request, **summary}.items() if k in keys and k != "stopped_by"}
    stopped = summary.get("stopped_by")
    fields.update(
        run_id=run_id,
        status=status,
        error=error,
        safety=_defence(request).get("safety"),
        stopped_by=stopped if isinstance(stopped, dict) else {},
    )
    return RedTeamSummary.model_validate(fields)


def public_request(request: Mapping[str, Any]) -> RedTeamRequestInfo:
    out = dict(request)
    out.pop("schema_version", None)
    return RedTeamRequestInfo.model_validate(out)


def _clean(rec: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(rec)
    out.pop("schema_version", None)
    return out


# ---------------------------------------------------------------------------- reads


@router.get("", response_model=RedTeamList)
def list_redteam_runs(
    ctx: Ctx,
    jobs: Jobs,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RedTeamList:
    """Summaries, newest first (unreadable run folders are reported in ``errors``)."""
    runs: list[tuple[str, StoredRun]] = []
    errors: list[ItemError] = []
    for rid in ctx.store.list_ids(KIND):
        try:
            runs.append((rid, load_run(ctx, rid)))
        except StoreError as exc:
            errors.append(ItemError(id=rid, detail=str(exc)))
    by_run: dict[str, dict[str, Any]] = {}
    if any(r.summary.get("status") == RUNNING for _, r in runs):
        for job in jobs.list_jobs():
            jrid = (job.get("params") or {}).get("run_id")
            if job["kind"] == JOB_KIND and isinstance(jrid, str):
                by_run.setdefault(jrid, job)
    items = [summarize(rid, r.request, r.summary, by_run.get(rid)) for rid, r in runs]
    items.sort(key=lambda m: (m.created_at or "", m.run_id), reverse=True)
    return RedTeamList(items=items[offset : offset + limit], total=len(items), errors=errors)


@router.get("/{run_id}", response_model=RedTeamDetail)
def get_redteam_run(run_id: str, ctx: Ctx, jobs: Jobs) -> RedTeamDetail:
    rid = _rid(run_id)
    r = load_run(ctx, rid)
    job = job_for_run(jobs, JOB_KIND, rid) if r.summary.get("status") == RUNNING else None
    return RedTeamDetail(
        summary=summarize(rid, r.request, r.summary, job), request=public_request(r.request)
    )


@router.get("/{run_id}/iterations", response_model=RedTeamIterations)
def redteam_iterations(
    run_id: str,
    ctx: Ctx,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> RedTeamIterations:
    """The search's progress, one record per iteration, in order."""
    rid = _rid(run_id)
    load_run(ctx, rid)
    rows = read_log(ctx.big, ctx.store.item_dir(KIND, rid) / "iterations.jsonl")
    page = [RedTeamIteration.model_validate(_clean(r)) for r in rows[offset : offset + limit]]
    return RedTeamIterations(items=page, total=len(rows))


@router.get("/{run_id}/attempts", response_model=RedTeamAttempts)
def redteam_attempts(
    run_id: str,
    ctx: Ctx,
    success: Annotated[
        bool | None, Query(description="Only successful (true) or failed (false) attempts.")
    ] = None,
    passed_gate: Annotated[bool | None, Query(description="Only these gate verdicts.")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
    order: Annotated[
        str, Query(pattern="^(query|-query|-objective)$", description="Sort order.")
    ] = "query",
) -> RedTeamAttempts:
    """Every payload tried, with its verdict (passed the gate? stopped by? success?)."""
    rid = _rid(run_id)
    load_run(ctx, rid)
    rows = read_log(ctx.big, ctx.store.item_dir(KIND, rid) / "attempts.jsonl")
    chosen = [
        a
        for a in rows
        if (success is None or bool(a.get("success")) == success)
        and (passed_gate is None or bool(a.get("passed_gate")) == passed_gate)
    ]
    if order == "-query":
        chosen = chosen[::-1]
    elif order == "-objective":
        chosen = sorted(chosen, key=lambda a: (-float(a.get("objective") or 0.0), a["query"]))
    page = [RedTeamAttempt.model_validate(_clean(a)) for a in chosen[offset : offset + limit]]
    return RedTeamAttempts(
        items=page,
        total=len(chosen),
        n_attempts=len(rows),
        successes=sum(1 for a in rows if a.get("success")),
    )


# ---------------------------------------------------------------------------- live


def _run_tail(ctx: Ctx, jobs: JobManager, rid: str, wait_s: float) -> FolderTail:
    job_id: list[str | None] = []

    def job() -> dict[str, Any] | None:
        if not job_id:
            found = job_for_run(jobs, JOB_KIND, rid)
            job_id.append(found["job_id"] if found else None)
            return found
        return jobs.get(job_id[0]) if job_id[0] else None

    def loaded() -> RedTeamSummary:
        r = load_run(ctx, rid)
        j = job() if r.summary.get("status") == RUNNING else None
        return summarize(rid, r.request, r.summary, j)

    def status() -> dict[str, Any] | None:
        if not ctx.store.exists(KIND, rid):
            return None
        m = loaded()
        return {
            "run_id": rid,
            "status": m.status,
            "n_done": m.queries,
            "n_total": m.budget,
            "error": m.error,
        }

    def iteration(rec: dict[str, Any]) -> dict[str, Any]:
        return RedTeamIteration.model_validate(_clean(rec)).model_dump()

    def attempt(rec: dict[str, Any]) -> dict[str, Any]:
        return RedTeamAttempt.model_validate(_clean(rec)).model_dump()

    return FolderTail(
        ctx.store.item_dir(KIND, rid),
        rid,
        [
            TailLog("attempts.jsonl", "attempts", "attempts", attempt),
            TailLog("iterations.jsonl", "iterations", "iterations", iteration),
        ],
        status,
        lambda: loaded().model_dump(),
        wait_s=wait_s,
    )


@router.get(
    "/{run_id}/stream",
    response_class=StreamingResponse,
    responses=sse_responses(
        RedTeamStreamDoc,
        "text/event-stream: a `status` event, then `attempts` and "
        "`iterations` (new records, from the first) and `summary` (whenever it changes) "
        "until the run stops running; a final `summary` and `status`. A run that does not "
        "exist yet is waited for up to `wait_s`, then one `missing` event ends it.",
    ),
)
async def stream_redteam_run(
    run_id: str,
    ctx: Ctx,
    jobs: Jobs,
    request: Request,
    wait_s: Annotated[float, Query(ge=0, le=120, description="Wait for the run.")] = 30.0,
) -> StreamingResponse:
    tail = _run_tail(ctx, jobs, _rid(run_id), wait_s)
    return StreamingResponse(
        tail.stream(request.is_disconnected), media_type="text/event-stream", headers=SSE_HEADERS
    )


# ---------------------------------------------------------------------------- start


def check_redteam_config(store: ArtifactStore, config: Mapping[str, Any]) -> dict[str, Any]:
    """The full RedTeamConfig dict of a partial one; ValueError (422) naming a bad field. A
    seeds file must be an existing file inside the artifact root (400/404 otherwise)."""
    from ttt.redteam.config import RedTeamConfig

    with user_config("RedTeamConfig"):
        cfg = RedTeamConfig.from_dict(dict(config))
    if cfg.seeds_file:
        path = store.user_path(cfg.seeds_file, "RedTeamConfig.seeds_file")
        if not path.is_file():
            raise NotFoundError(f"RedTeamConfig.seeds_file {cfg.seeds_file!r}: no such file")
    return cfg.to_dict()


@router.post("", response_model=RedTeamStarted, status_code=202)
def start_redteam_run(body: RedTeamStartRequest, ctx: Ctx, jobs: Jobs) -> RedTeamStarted:
    """Start an attack as a job. The run id is assigned up front: follow the run at
    /api/redteam/{run_id}/stream."""
    from ttt.text.sentry_config import with_stream_defaults

    store = ctx.store
    check_redteam_config(store, body.config)  # 422 naming a bad field before the model lookup
    mid = usable_model(store, body.model_id)
    # The defence's fields left out take the model backend's stream defaults (as a Sentry run).
    backend = registry.backend_of(registry.read_meta(store, mid))
    partial = {**body.config, "sentry": with_stream_defaults(backend, body.config.get("sentry"))}
    config = check_redteam_config(store, partial)
    rid = _rid(body.run_id) if body.run_id else new_id("redteam")
    if store.exists(KIND, rid):
        raise HTTPException(409, f"red-team run {rid!r} already exists")
    params = {**config, "model_id": mid, "run_id": rid}  # redteam_job's params
    job = Job.model_validate(jobs.submit(JOB_KIND, params, claim=(KIND, rid)))
    return RedTeamStarted(run_id=rid, job_id=job.job_id, job=job)
