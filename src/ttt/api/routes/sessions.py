"""Nano sessions: listing, detail, create/run/fork (jobs), ghost, architecture, files, live."""

from __future__ import annotations

from typing import Annotated, Any

import torch
from anyio import to_thread
from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from ttt.api.contract import sse_responses
from ttt.api.deps import ApiContext, Ctx, Jobs, SessionId, Store
from ttt.api.errors import user_config
from ttt.api.models.common import ERROR_RESPONSES
from ttt.api.models.jobs import Job
from ttt.api.models.runs import LiveStreamEvents
from ttt.api.models.sessions import (
    Architecture,
    FileList,
    ForkRequest,
    GhostOut,
    GhostRequest,
    RunRequest,
    SessionCreate,
    SessionDetail,
    SessionList,
    SessionSummary,
)
from ttt.api.readers import (
    SORT_KEYS,
    list_files,
    list_summaries,
    resume_command,
    run_dir,
    running_run,
    runs_of,
    session_dir,
    sort_items,
    sort_values,
)
from ttt.api.sse import SSE_HEADERS, LiveTail
from ttt.jobs import JobManager
from ttt.nano import session as nano_session
from ttt.nano.base import latest_base_id, load_base
from ttt.nano.config import PlasticityConfig, apply_overrides
from ttt.nano.env import EnvConfig
from ttt.nano.model import decay_of
from ttt.optim import muon_lr_scale
from ttt.store import ArtifactStore, NotFoundError, new_id, read_json, read_tensors, validate_id

router = APIRouter(prefix="/api/sessions", tags=["sessions"], responses=ERROR_RESPONSES)


@router.get("", response_model=SessionList)
def list_sessions(
    ctx: Ctx,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    sort: Annotated[
        str,
        Query(
            description="A field; '-' prefix = descending.",
            json_schema_extra={"enum": sort_values(SORT_KEYS)},
        ),
    ] = "-created_at",
) -> SessionList:
    """Paginated summaries; a session whose files cannot be read is listed in ``errors``."""
    items, errors = list_summaries(ctx.files, ctx.store)
    sort_items(items, sort, SORT_KEYS)
    page = [SessionSummary.model_validate(s) for s in items[offset : offset + limit]]
    return SessionList.model_validate({"items": page, "total": len(items), "errors": errors})


@router.get("/{session_id}", response_model=SessionDetail)
def get_session(session_id: SessionId, ctx: Ctx) -> SessionDetail:
    meta = nano_session.read_meta(ctx.store, session_id)
    metrics = nano_session.read_metrics(ctx.store, session_id)
    runs = runs_of(ctx.files, ctx.store, session_id)
    return SessionDetail.model_validate(
        {
            "meta": meta,
            "metrics": metrics,
            "runs": runs,
            "resume_command": resume_command(ctx.store, session_id, runs),
            "running": running_run(runs) is not None,
        }
    )


def _ensure_idle(ctx: ApiContext, jobs: JobManager, session_id: str) -> None:
    """409 while the session has a running run or a queued/running job of its own."""
    if running_run(runs_of(ctx.files, ctx.store, session_id)) is not None:
        raise HTTPException(409, f"session {session_id!r} is running; wait or cancel its job")
    for job in jobs.active():
        if job["params"].get("session_id") == session_id and job["kind"] == "run_session":
            raise HTTPException(409, f"session {session_id!r} already has job {job['job_id']}")


def _check_configs(
    env: dict[str, Any],
    plasticity: dict[str, Any],
    overrides: dict[str, Any] | None,
) -> None:
    """Validate the effective configs now (ValueError -> 422) rather than in the job."""
    ov = overrides or {}
    with user_config("env overrides"):
        EnvConfig.from_dict(apply_overrides(env, ov.get("env")))
    with user_config("plasticity overrides"):
        PlasticityConfig.from_dict(apply_overrides(plasticity, ov.get("plasticity")))


def _check_overrides(store: ArtifactStore, session_id: str, overrides: dict[str, Any]) -> None:
    meta = nano_session.read_meta(store, session_id)
    _check_configs(meta["env_cfg"], meta["plasticity_cfg"], overrides)


@router.post("", response_model=Job, status_code=202)
def create_session(body: SessionCreate, store: Store, jobs: Jobs) -> Job:
    """Create a session as a job (result: {session_id}); the id is in params at once."""
    sid = validate_id(body.session_id, what="session id") if body.session_id else new_id("nano")
    if store.exists("sessions", sid):
        raise HTTPException(409, f"session {sid!r} already exists")
    base_id = body.base_id or latest_base_id(store)
    if base_id is None or not (store.item_dir("base", base_id) / "meta.json").is_file():
        what = f"base {base_id!r}" if base_id else "a Nano base (pretrain one first)"
        raise NotFoundError(f"{what} not found")
    _check_configs(
        {"mode": body.env_mode, "mu": 0.1 if body.mu is None else body.mu},
        PlasticityConfig().to_dict(),
        {"env": body.env_overrides, "plasticity": body.plasticity_overrides},
    )
    params = {**body.model_dump(exclude_none=True), "session_id": sid}
    return Job.model_validate(jobs.submit("create_session", params, claim=("sessions", sid)))


@router.post("/{session_id}/run", response_model=Job, status_code=202)
def run_session(session_id: SessionId, body: RunRequest, ctx: Ctx, jobs: Jobs) -> Job:
    """Continue the session for ``steps`` as a job (result: {session_id, run_id})."""
    session_dir(ctx.store, session_id)
    _ensure_idle(ctx, jobs, session_id)
    run_id = validate_id(body.run_id, what="run id") if body.run_id else new_id("run")
    params: dict[str, Any] = {"session_id": session_id, "steps": body.steps, "run_id": run_id}
    if body.overrides is not None:
        params["overrides"] = body.overrides.model_dump(exclude_none=True)
        _check_overrides(ctx.store, session_id, params["overrides"])
    return Job.model_validate(jobs.submit("run_session", params))


@router.post("/{session_id}/fork", response_model=Job, status_code=202)
def fork_session(session_id: SessionId, body: ForkRequest, store: Store, jobs: Jobs) -> Job:
    """Branch the session (from the latest state or committed update k) as a job."""
    session_dir(store, session_id)
    new_sid = (
        validate_id(body.new_session_id, what="session id")
        if body.new_session_id
        else new_id("nano")
    )
    if store.exists("sessions", new_sid):
        raise HTTPException(409, f"session {new_sid!r} already exists")
    if body.from_update is not None:
        committed = [int(r["k"]) for r in nano_session.weight_history(store, session_id)]
        if body.from_update not in committed:
            span = f"0..{committed[-1]}" if committed else "none"
            raise ValueError(
                f"from_update={body.from_update}: session {session_id!r} has committed "
                f"updates {span}"
            )
    params: dict[str, Any] = {
        "session_id": session_id,
        "from_update": body.from_update,
        "with_momentum": body.with_momentum,
        "new_session_id": new_sid,
    }
    if body.overrides is not None:
        params["overrides"] = body.overrides.model_dump(exclude_none=True)
        _check_overrides(store, session_id, params["overrides"])
    return Job.model_validate(jobs.submit("fork_session", params, claim=("sessions", new_sid)))


@router.post("/{session_id}/ghost", response_model=GhostOut)
def ghost(session_id: SessionId, body: GhostRequest, store: Store) -> GhostOut:
    """The run's trajectory re-simulated with a different mu (same actions and start)."""
    run = read_json(run_dir(store, session_id, body.run_id) / "run.json")
    t0 = int(run.get("t_start") or 0)  # the domain counts steps from the run's start
    start = 0 if body.start is None else max(0, body.start - t0)
    end = None if body.end is None else max(0, body.end - t0)
    out = nano_session.ghost_trajectory(
        store, session_id, body.run_id, mu=body.mu, start=start, end=end
    )
    return GhostOut.model_validate(out)


@router.get("/{session_id}/architecture", response_model=Architecture)
def architecture(session_id: SessionId, store: Store) -> Architecture:
    meta = nano_session.read_meta(store, session_id)
    params, _, _ = load_base(store, meta["base_id"])
    plastic = read_tensors(session_dir(store, session_id) / "plastic_state.safetensors")
    pcfg = PlasticityConfig.from_dict(meta["plasticity_cfg"])
    shapes = {n: list(t.shape) for n, t in params.items()}
    shapes.update({n: list(t.shape) for n, t in plastic.items()})
    frozen = sorted(n for n in params if n not in plastic)
    muon = {
        **pcfg.muon().to_dict(),
        "lr_scale": {
            n: muon_lr_scale(int(t.shape[-2]), int(t.shape[-1]))
            for n, t in plastic.items()
            if t.ndim >= 2
        },
    }
    decay = decay_of(params["a_raw"]).reshape(-1) if "a_raw" in params else torch.zeros(0)
    return Architecture.model_validate(
        {
            "model_cfg": meta["model_cfg"],
            "shapes": shapes,
            "decay": decay.double().tolist(),
            "param_counts": {
                "plastic": {n: t.numel() for n, t in plastic.items()},
                "frozen": {n: params[n].numel() for n in frozen},
            },
            "plasticity_cfg": meta["plasticity_cfg"],
            "muon": muon,
            "plastic": sorted(plastic),
            "frozen": frozen,
        }
    )


@router.get("/{session_id}/files", response_model=FileList)
def files(session_id: SessionId, store: Store) -> FileList:
    """Every file of the session folder with its size (shared blobs are not included)."""
    items = list_files(session_dir(store, session_id))
    return FileList.model_validate(
        {"items": items, "total_bytes": sum(int(i["size"]) for i in items)}
    )


@router.get(
    "/{session_id}/live",
    response_class=StreamingResponse,
    responses=sse_responses(
        LiveStreamEvents,
        "text/event-stream following the running run's live.jsonl: "
        "`status` first, then `rows` (id = byte offset, for Last-Event-ID) and `event` "
        "as they are written, and a final `status` when the run ends. With no running "
        "run the stream waits up to `wait_s` for one, then sends status `idle` and ends. "
        "The schema lists the data of each event name.",
    ),
)
async def live(
    session_id: SessionId,
    ctx: Ctx,
    request: Request,
    run_id: Annotated[
        str | None, Query(description="Follow this run (else the running one).")
    ] = None,
    offset: Annotated[int, Query(ge=0, description="Byte offset in live.jsonl to start at.")] = 0,
    wait_s: Annotated[float, Query(ge=0, le=60)] = 10.0,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    await _check_session(ctx.store, session_id)
    if last_event_id and last_event_id.isdigit():
        offset = int(last_event_id)
    tail = LiveTail(
        ctx.store,
        ctx.files,
        session_id,
        run_id=validate_id(run_id, what="run id") if run_id else None,
        offset=offset,
        wait_s=wait_s,
    )
    return StreamingResponse(
        tail.stream(request.is_disconnected), media_type="text/event-stream", headers=SSE_HEADERS
    )


async def _check_session(store: ArtifactStore, session_id: str) -> None:
    await to_thread.run_sync(session_dir, store, session_id)
