"""Sentry runs: list, detail, per-chunk events (paginated, filtered), signal series, a live
SSE stream, and starting a run (a ``sentry_run`` job).

The files are read as ``ttt.text.sentry`` writes them (``text_runs/<run_id>/request.json``,
``events.jsonl``, ``summary.json``). The monitored text leaves the server only for runs stored
with ``keep_text``: for the others, ``text``, ``tokens`` and ``influence`` are removed from
every answer even if a file carried them, and a POSTed text travels to the worker through a
spool file that the job deletes (never through job.json).

``FolderTail`` (the SSE follower of a run folder) is shared with the red-team routes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from ttt.api.cache import FileCache
from ttt.api.contract import sse_responses
from ttt.api.deps import Ctx, Jobs
from ttt.api.errors import user_config
from ttt.api.models.common import ERROR_RESPONSES, ItemError
from ttt.api.models.jobs import Job
from ttt.api.models.text_runs import (
    MAX_TEXT_CHARS,
    GateThreshold,
    SentryDefaults,
    SentryEvent,
    SentryRunRequest,
    TextRunDetail,
    TextRunEvents,
    TextRunList,
    TextRunRequestInfo,
    TextRunSeries,
    TextRunStarted,
    TextRunStreamDoc,
    TextRunSummary,
)
from ttt.api.sse import KEEPALIVE_S, SSE_HEADERS, Disconnected, _read_from, comment, frame, retry
from ttt.jobs import TERMINAL, JobManager, spool_text
from ttt.models import registry
from ttt.store import (
    ArtifactStore,
    NotFoundError,
    StoreError,
    new_id,
    read_json,
    read_jsonl,
    validate_id,
)

router = APIRouter(prefix="/api/text_runs", tags=["text_runs"], responses=ERROR_RESPONSES)

KIND = "text_runs"
JOB_KIND = "sentry_run"
PRIVATE_EVENT_KEYS = ("text", "tokens", "influence")
RUNNING = "running"


def _rid(run_id: str) -> str:
    return validate_id(run_id, what="text run id")


# ---------------------------------------------------------------------------- reading


def read_doc(cache: FileCache, path: Path, what: str) -> dict[str, Any]:
    """A JSON file of a run folder through the cache; a missing file is NotFoundError."""
    try:
        return dict(cache.get("json", path, read_json))
    except FileNotFoundError as e:
        raise NotFoundError(f"{what}: {path.name} is missing ({path})") from e


def read_log(cache: FileCache, path: Path) -> list[dict[str, Any]]:
    """A JSONL log of a run folder through the cache (empty while it does not exist)."""
    try:
        return list(cache.get("jsonl", path, read_jsonl))
    except FileNotFoundError:
        return []


def job_for_run(jobs: JobManager, kind: str, run_id: str) -> dict[str, Any] | None:
    """The job of ``kind`` that writes ``run_id`` (None for runs started outside the API)."""
    for job in jobs.list_jobs():
        if job["kind"] == kind and (job.get("params") or {}).get("run_id") == run_id:
            return job
    return None


def effective(summary: Mapping[str, Any], job: Mapping[str, Any] | None) -> tuple[str, Any]:
    """(status, error): ``interrupted`` when the summary says running but its job ended."""
    status, error = str(summary.get("status", RUNNING)), summary.get("error")
    # "interrupted": load_run found the writer gone; the job, if any, says why.
    if status in (RUNNING, "interrupted") and job is not None and job["status"] in TERMINAL:
        why = job.get("error") or f"its job {job['job_id']} ended ({job['status']})"
        return "interrupted", f"the run stopped without finishing: {why}"
    return status, error


@dataclass
class StoredRun:
    request: dict[str, Any]
    summary: dict[str, Any]


def load_run(ctx: Ctx, run_id: str) -> StoredRun:
    d = ctx.store.item_dir(KIND, run_id, must_exist=True)
    what = f"text run {run_id!r}"
    summary = read_doc(ctx.files, d / "summary.json", what)
    if summary.get("status") == RUNNING:  # its process may be gone (killed outside a job)
        from ttt.text import sentry

        events = sentry.read_events(ctx.store, run_id)
        summary = sentry.reported_summary(ctx.store, run_id, dict(summary), events)
    return StoredRun(read_doc(ctx.files, d / "request.json", what), summary)


def summarize(
    run_id: str, request: Mapping[str, Any], summary: Mapping[str, Any], job: Any = None
) -> TextRunSummary:
    status, error = effective(summary, job)
    fields = {k: v for k, v in {**request, **summary}.items() if k in TextRunSummary.model_fields}
    fields.update(run_id=run_id, status=status, error=error)
    fields["keep_text"] = bool(request.get("keep_text"))
    return TextRunSummary.model_validate(fields)


def public_request(request: Mapping[str, Any]) -> TextRunRequestInfo:
    out = dict(request)
    out.pop("schema_version", None)
    if not out.get("keep_text"):
        out.pop("text", None)
    return TextRunRequestInfo.model_validate(out)


def public_event(ev: Mapping[str, Any], keep_text: bool) -> dict[str, Any]:
    """An event as answered: without the text's pieces unless the run kept its text (the
    strings of ``top_tokens`` are text too: only their positions and scores are kept)."""
    out = dict(ev)
    out.pop("schema_version", None)
    if not keep_text:
        for k in PRIVATE_EVENT_KEYS:
            out.pop(k, None)
        out["top_tokens"] = [
            {"token": None, "pos": t.get("pos"), "score": t.get("score")}
            for t in out.get("top_tokens") or []
            if isinstance(t, Mapping)
        ]
    return out


def _status_filter(status: Sequence[str] | None) -> set[str]:
    return {s for item in status or [] for s in item.split(",") if s}


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


# ---------------------------------------------------------------------------- reads


@router.get("", response_model=TextRunList)
def list_text_runs(
    ctx: Ctx,
    jobs: Jobs,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    status: Annotated[str | None, Query(description="Only runs with this status.")] = None,
) -> TextRunList:
    """Summaries, newest first (unreadable run folders are reported in ``errors``)."""
    runs: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    errors: list[ItemError] = []
    for rid in ctx.store.list_ids(KIND):
        try:
            r = load_run(ctx, rid)
        except StoreError as exc:
            errors.append(ItemError(id=rid, detail=str(exc)))
            continue
        runs.append((rid, r.request, r.summary))
    by_run: dict[str, dict[str, Any]] = {}
    if any(s.get("status") == RUNNING for _, _, s in runs):
        for job in jobs.list_jobs():
            jrid = (job.get("params") or {}).get("run_id")
            if job["kind"] == JOB_KIND and isinstance(jrid, str):
                by_run.setdefault(jrid, job)  # newest job first
    items = [summarize(rid, req, s, by_run.get(rid)) for rid, req, s in runs]
    items.sort(key=lambda m: (m.created_at or "", m.run_id), reverse=True)
    if status is not None:
        items = [m for m in items if m.status == status]
    return TextRunList(items=items[offset : offset + limit], total=len(items), errors=errors)


@router.get("/_defaults", response_model=SentryDefaults)
def sentry_defaults() -> SentryDefaults:
    """Every SentryConfig default and every gate threshold (``rule.field``) with its default.
    (Run ids cannot start with '_', so this path never shadows a run.)"""
    from ttt.safety.gate import GateConfig
    from ttt.text.sentry import OBJECTIVES, SAFETY_MODES, STREAM_DEFAULTS, SentryConfig

    gate = GateConfig()
    thresholds = []
    for rule, values in gate.to_dict().items():
        doc = (type(getattr(gate, rule)).__doc__ or "").strip().splitlines()
        for name, value in values.items():
            thresholds.append(
                GateThreshold(
                    key=f"{rule}.{name}",
                    rule=rule,
                    field=name,
                    default=value,
                    description=doc[0] if doc else None,
                )
            )
    return SentryDefaults(
        config=SentryConfig().to_dict(),
        backend_defaults={k: dict(v) for k, v in STREAM_DEFAULTS.items()},
        safety_modes=list(SAFETY_MODES),
        objectives=list(OBJECTIVES),
        spfw_modes=["halfspace", "nullspace"],
        gate=thresholds,
        max_text_chars=MAX_TEXT_CHARS,
    )


@router.get("/{run_id}", response_model=TextRunDetail)
def get_text_run(run_id: str, ctx: Ctx, jobs: Jobs) -> TextRunDetail:
    """The stored request (the text only for keep_text runs) and the summary."""
    rid = _rid(run_id)
    r = load_run(ctx, rid)
    job = (
        job_for_run(jobs, JOB_KIND, rid)
        if r.summary.get("status") in (RUNNING, "interrupted")
        else None
    )
    return TextRunDetail(
        summary=summarize(rid, r.request, r.summary, job), request=public_request(r.request)
    )


@router.get("/{run_id}/events", response_model=TextRunEvents)
def text_run_events(
    run_id: str,
    ctx: Ctx,
    status: Annotated[
        list[str] | None,
        Query(description="Only these statuses (repeat the parameter or comma-separate)."),
    ] = None,
    start: Annotated[int, Query(ge=0, description="Only chunks >= start.")] = 0,
    offset: Annotated[int, Query(ge=0, description="Skip this many matching events.")] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> TextRunEvents:
    """Per-chunk events in chunk order (a torn last line of a running run is skipped)."""
    rid = _rid(run_id)
    r = load_run(ctx, rid)
    keep = bool(r.request.get("keep_text"))
    events = read_log(ctx.big, ctx.store.item_dir(KIND, rid) / "events.jsonl")
    counts: dict[str, int] = {}
    for e in events:
        counts[str(e.get("status"))] = counts.get(str(e.get("status")), 0) + 1
    wanted = _status_filter(status)
    chosen = [
        e
        for e in events
        if int(e.get("chunk", 0)) >= start and (not wanted or e.get("status") in wanted)
    ]
    page = [
        SentryEvent.model_validate(public_event(e, keep)) for e in chosen[offset : offset + limit]
    ]
    return TextRunEvents(items=page, total=len(chosen), counts=counts, n_events=len(events))


@router.get("/{run_id}/series", response_model=TextRunSeries)
def text_run_series(run_id: str, ctx: Ctx, jobs: Jobs) -> TextRunSeries:
    """Every chunk's scalar signals as columns (for charts and run comparison)."""
    rid = _rid(run_id)
    r = load_run(ctx, rid)
    job = (
        job_for_run(jobs, JOB_KIND, rid)
        if r.summary.get("status") in (RUNNING, "interrupted")
        else None
    )
    events = read_log(ctx.big, ctx.store.item_dir(KIND, rid) / "events.jsonl")

    def col(key: str) -> list[float | None]:
        return [_num(e.get(key)) for e in events]

    def canary(key: str) -> list[float | None]:
        return [_num((e.get("canary") or {}).get(key)) for e in events]

    gate_allowed: list[bool | None] = []
    for e in events:
        g = e.get("gate")
        gate_allowed.append(bool(g.get("allowed")) if isinstance(g, dict) else None)
    return TextRunSeries(
        run_id=rid,
        status=summarize(rid, r.request, r.summary, job).status,
        chunk=[int(e.get("chunk", i)) for i, e in enumerate(events)],
        token_end=[int(e.get("token_end", 0)) for e in events],
        loss=col("loss"),
        grad_norm=col("grad_norm"),
        grad_norm_z=col("grad_norm_z"),
        update_norm=col("update_norm"),
        canary_delta=canary("delta"),
        canary_before=canary("before"),
        compression_ratio=col("compression_ratio"),
        canary_cos=col("canary_cos"),
        event_status=[str(e.get("status")) for e in events],
        gate_allowed=gate_allowed,
    )


# ---------------------------------------------------------------------------- live


@dataclass
class TailLog:
    """One JSONL log a FolderTail follows: its file, SSE event name and payload key."""

    file: str
    event: str
    key: str
    clean: Callable[[dict[str, Any]], dict[str, Any]] = dict


class FolderTail:
    """Follows a run folder: new complete lines of its JSONL logs (by byte offset) and
    summary.json, until the run stops running.

    ``status()`` answers ``{run_id, status, n_done, n_total, error}`` or None while the run
    does not exist yet (its job is starting); ``summary()`` the summary model as a dict.
    Events: ``status`` first, one event per log with new lines, ``summary`` whenever
    summary.json changes, a final ``summary`` and ``status`` once the run has ended; or one
    ``missing`` if the run does not appear within ``wait_s``."""

    def __init__(
        self,
        folder: Path,
        run_id: str,
        logs: Sequence[TailLog],
        status: Callable[[], dict[str, Any] | None],
        summary: Callable[[], dict[str, Any]],
        *,
        wait_s: float,
        poll_s: float = 0.25,
    ) -> None:
        self.folder, self.run_id, self.logs = folder, run_id, list(logs)
        self.status, self.summary = status, summary
        self.wait_s, self.poll_s = wait_s, poll_s
        self.offsets = {log.file: 0 for log in self.logs}
        self.summary_key: tuple[int, int] | None = None

    def _status(self) -> dict[str, Any] | None:
        try:
            return self.status()
        except (NotFoundError, FileNotFoundError):
            return None

    def _new_lines(self, log: TailLog) -> list[dict[str, Any]]:
        data, self.offsets[log.file] = _read_from(self.folder / log.file, self.offsets[log.file])
        out = []
        for line in data.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a torn line left by a killed writer
            if isinstance(rec, dict):
                out.append(log.clean(rec))
        return out

    def _summary_changed(self) -> dict[str, Any] | None:
        try:
            st = (self.folder / "summary.json").stat()
        except FileNotFoundError:
            return None
        key = (st.st_mtime_ns, st.st_size)
        if key == self.summary_key:
            return None
        self.summary_key = key
        return self.summary()

    async def _drain(self) -> AsyncIterator[bytes]:
        for log in self.logs:
            while True:
                recs = await to_thread.run_sync(self._new_lines, log)
                if not recs:
                    break
                yield frame(log.event, {log.key: recs})

    async def stream(self, disconnected: Disconnected) -> AsyncIterator[bytes]:
        yield retry()
        deadline = time.monotonic() + self.wait_s
        st = await to_thread.run_sync(self._status)
        while st is None:
            if time.monotonic() >= deadline or await disconnected():
                yield frame("missing", {"run_id": self.run_id})
                return
            await asyncio.sleep(self.poll_s)
            st = await to_thread.run_sync(self._status)
        yield frame("status", st)
        quiet_since = time.monotonic()
        while not await disconnected():
            sent = False
            async for chunk in self._drain():
                sent = True
                yield chunk
            summary = await to_thread.run_sync(self._summary_changed)
            if summary is not None:
                sent = True
                yield frame("summary", summary)
            st = await to_thread.run_sync(self._status) or st
            if st["status"] != RUNNING:
                # Writers append their last lines before the final summary: drain, then end.
                async for chunk in self._drain():
                    yield chunk
                final = await to_thread.run_sync(self._summary_changed)
                if final is not None:  # else the summary just sent is the final one
                    yield frame("summary", final)
                yield frame("status", st)
                return
            if sent:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= KEEPALIVE_S:
                quiet_since = time.monotonic()
                yield comment()
            await asyncio.sleep(self.poll_s)


def _run_tail(ctx: Ctx, jobs: JobManager, rid: str, wait_s: float) -> FolderTail:
    job_id: list[str | None] = []  # looked up once, the first time the run says running

    def job() -> dict[str, Any] | None:
        if not job_id:
            found = job_for_run(jobs, JOB_KIND, rid)
            job_id.append(found["job_id"] if found else None)
            return found
        return jobs.get(job_id[0]) if job_id[0] else None

    def loaded() -> tuple[StoredRun, TextRunSummary]:
        r = load_run(ctx, rid)
        j = job() if r.summary.get("status") == RUNNING else None
        return r, summarize(rid, r.request, r.summary, j)

    def status() -> dict[str, Any] | None:
        if not ctx.store.exists(KIND, rid):
            return None
        _, m = loaded()
        return {
            "run_id": rid,
            "status": m.status,
            "n_done": m.n_chunks_done,
            "n_total": m.n_chunks,
            "error": m.error,
        }

    def summary() -> dict[str, Any]:
        return loaded()[1].model_dump()

    keep: list[bool] = []  # request.json is written before the first event

    def clean(rec: dict[str, Any]) -> dict[str, Any]:
        if not keep:
            keep.append(bool(load_run(ctx, rid).request.get("keep_text")))
        return SentryEvent.model_validate(public_event(rec, keep[0])).model_dump()

    return FolderTail(
        ctx.store.item_dir(KIND, rid),
        rid,
        [TailLog("events.jsonl", "events", "events", clean)],
        status,
        summary,
        wait_s=wait_s,
    )


@router.get(
    "/{run_id}/stream",
    response_class=StreamingResponse,
    responses=sse_responses(
        TextRunStreamDoc,
        "text/event-stream: a `status` event, then `events` (new chunk "
        "events, from the first chunk) and `summary` (whenever it changes) until the run "
        "stops running; a final `summary` and `status`. A run that does not exist yet (its "
        "job is starting) is waited for up to `wait_s`, then one `missing` event ends it.",
    ),
)
async def stream_text_run(
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


def check_sentry_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The full SentryConfig dict of a partial one; ValueError (422) naming a bad field."""
    from ttt.text.sentry import SentryConfig

    with user_config("SentryConfig"):
        return SentryConfig.from_dict(config).to_dict()


def usable_model(store: ArtifactStore, model_id: str | None) -> str:
    """The model a run will use (the default when None); 404 unknown, 409 no final weights."""
    mid = registry.resolve_model_id(
        store, validate_id(model_id, what="text model id") if model_id else None
    )
    meta = registry.read_meta(store, mid)
    if meta.get("status") not in registry.PROMOTABLE:
        raise registry.ModelStateError(
            f"text model {mid!r} has status {meta.get('status')!r}: only completed models "
            "(or sleep candidates) can be monitored"
        )
    return mid


@router.post("", response_model=TextRunStarted, status_code=202)
def start_text_run(body: SentryRunRequest, ctx: Ctx, jobs: Jobs) -> TextRunStarted:
    """Start a Sentry run as a job. The run id is assigned up front: follow the run at
    /api/text_runs/{run_id}/stream. The text reaches the worker through a spool file that
    the job deletes; it is stored in the run only with ``keep_text``."""
    from ttt.text.sentry_config import with_stream_defaults

    store = ctx.store
    if not body.text.strip():
        raise ValueError("text: only whitespace, nothing to monitor")
    check_sentry_config(body.config)  # 422 naming a bad field before the model is looked up
    mid = usable_model(store, body.model_id)
    config = check_sentry_config(
        with_stream_defaults(registry.backend_of(registry.read_meta(store, mid)), body.config)
    )
    rid = _rid(body.run_id) if body.run_id else new_id("sentry")
    if store.exists(KIND, rid):
        raise HTTPException(409, f"text run {rid!r} already exists")
    jobs.check_claim((KIND, rid))  # before the spool file of another job could be replaced
    params: dict[str, Any] = {
        "run_id": rid,
        "model_id": mid,
        "keep_text": body.keep_text,
        "config": config,
        "source": "api",
        "n_chars": len(body.text),
        "text_sha256": hashlib.sha256(body.text.encode("utf-8", "surrogatepass")).hexdigest(),
        "spool": spool_text(store, KIND, rid, body.text),
    }
    job = Job.model_validate(jobs.submit(JOB_KIND, params, claim=(KIND, rid)))
    return TextRunStarted(run_id=rid, job_id=job.job_id, job=job)
