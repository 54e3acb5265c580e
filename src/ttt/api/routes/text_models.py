"""Text models (TinyLm): list, detail, train log (JSON and live SSE), train (a job),
generate, promote, reject."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from ttt.api.contract import sse_responses
from ttt.api.deps import Ctx, Jobs, Store
from ttt.api.models.common import ERROR_RESPONSES
from ttt.api.models.jobs import Job
from ttt.api.models.text_models import (
    GenerateOut,
    GenerateRequest,
    TextModelDetail,
    TextModelList,
    TextModelSummary,
    TrainLmRequest,
    TrainLog,
    TrainLogRow,
    TrainStreamEvents,
)
from ttt.api.split_bytes import bits_per_byte, validation_split
from ttt.api.sse import KEEPALIVE_S, SSE_HEADERS, Disconnected, _read_from, comment, frame, retry
from ttt.models import registry
from ttt.models.corpus import find_files
from ttt.store import (
    ArtifactStore,
    NotFoundError,
    PathEscapeError,
    StoreError,
    new_id,
    read_jsonl,
    validate_id,
)

router = APIRouter(prefix="/api/text_models", tags=["text_models"], responses=ERROR_RESPONSES)
LOG_FILE = "train_log.jsonl"


def _mid(model_id: str) -> str:
    return validate_id(model_id, what="text model id")


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def shown(store: ArtifactStore, meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` as reported: a ``training`` model whose trainer is gone is ``interrupted``
    (registry.reported_status), with how to continue it."""
    status = registry.reported_status(store, meta)
    if status == meta["status"]:
        return meta
    out = {**meta, "status": status}
    if status == registry.INTERRUPTED:
        out["error"] = meta.get("error") or (
            "training stopped without finishing (its process is gone); continue it with "
            f"`ttt lm train --resume {meta['model_id']}`"
        )
    return out


def summarize(
    meta: dict[str, Any], default_id: str | None = None, model_dir: Path | None = None
) -> TextModelSummary:
    """The listing row of a model; with ``model_dir`` also its validation split's bytes and
    bits per byte (ttt.api.split_bytes)."""
    mcfg = meta.get("model_cfg") or {}
    split = validation_split(model_dir) if model_dir is not None else None
    tcfg = meta.get("train_cfg") or {}
    metrics = meta.get("metrics") or {}
    corpus = meta.get("corpus") or {}
    src = meta.get("source") or {}
    return TextModelSummary(
        model_id=meta["model_id"],
        status=meta["status"],
        promoted=bool(meta.get("promoted")),
        rejected=bool(meta.get("rejected")),
        is_default=default_id is not None and meta["model_id"] == default_id,
        created_at=meta.get("created_at"),
        backend=registry.backend_of(meta),
        source=f"{src.get('kind')}: {src.get('ref')}" if src else None,
        architecture=meta.get("architecture"),
        preset=meta.get("preset"),
        backbone=mcfg.get("backbone") or meta.get("backbone"),
        d_model=mcfg.get("d_model"),
        n_layers=mcfg.get("n_layers"),
        vocab_size=mcfg.get("vocab_size"),
        n_params=metrics.get("n_params") or meta.get("parameters"),
        corpus_source=corpus.get("source"),
        corpus_sha256=corpus.get("sha256"),
        tokenizer_sha256=(meta.get("tokenizer") or {}).get("sha256"),
        steps=tcfg.get("steps"),
        step=int(meta.get("step") or 0),
        lr=_num(tcfg.get("lr")),
        train_loss=_num(metrics.get("train_loss")),
        val_loss=_num(metrics.get("val_loss")),
        val_ppl=_num(metrics.get("val_ppl")),
        val_tokens=split["val_tokens"] if split else None,
        val_bytes=split["val_bytes"] if split else None,
        val_bpb=bits_per_byte(metrics.get("val_loss"), split),
        tokens_per_s=_num(metrics.get("tokens_per_s")),
        seconds=_num(metrics.get("seconds")),
        error=meta.get("error"),
    )


def resolve_corpus(raw_paths: Sequence[str], root: Path, corpus_dirs: Sequence[Path]) -> list[str]:
    """Absolute paths of the requested corpus files/folders, each (and every file a folder
    holds, symlinks followed) inside the artifact root or a configured corpus folder, and
    nothing under the store's private folders (``.spool``, ``.locks``, temp files).
    Relative paths are taken relative to the artifact root. Anything else: PathEscapeError."""
    allowed = [root.resolve(), *(Path(d).resolve() for d in corpus_dirs)]
    store = ArtifactStore(root)

    def problem(p: Path) -> str | None:
        if not any(p == a or p.is_relative_to(a) for a in allowed):
            return "outside the artifact root and the configured corpus folders (TTT_CORPUS_DIRS)"
        hidden = store.private_part(p)
        return f"under {hidden!r}, a hidden store folder" if hidden else None

    out: list[str] = []
    for raw in raw_paths:
        if not raw.strip() or "\x00" in raw or len(raw) > 1024:
            raise ValueError(f"bad corpus path {raw[:80]!r}")
        p = Path(raw)
        p = (p if p.is_absolute() else root / p).resolve()
        why = problem(p)
        if why:
            raise PathEscapeError(f"corpus path {raw!r} is {why}")
        if not p.exists():
            raise NotFoundError(f"corpus path {raw!r}: no such file or folder")
        if p.is_dir():
            for f in find_files(p):
                why = problem(f.resolve())
                if why:
                    raise PathEscapeError(
                        f"corpus folder {raw!r} holds {f.name!r}, which links {why}"
                    )
        out.append(str(p))
    return out


# ---------------------------------------------------------------------------- reads


@router.get("", response_model=TextModelList)
def list_text_models(store: Store) -> TextModelList:
    """Summaries, newest first (unreadable folders are reported in ``errors``)."""
    items, errors = [], []
    metas = []
    for mid in store.list_ids(registry.KIND):
        try:
            metas.append(shown(store, registry.read_meta(store, mid)))
        except StoreError as exc:
            errors.append({"id": mid, "detail": str(exc)})
    eligible = [m for m in metas if registry.is_default_eligible(m)]
    eligible.sort(key=lambda m: (m.get("created_at_unix", 0), m.get("model_id", "")))
    default_id = str(eligible[-1]["model_id"]) if eligible else None
    metas.sort(key=lambda m: (m.get("created_at_unix", 0), m.get("model_id", "")), reverse=True)
    items = [summarize(m, default_id, registry.model_dir(store, m["model_id"])) for m in metas]
    return TextModelList(items=items, total=len(items), default_model_id=default_id, errors=errors)


@router.get("/{model_id}", response_model=TextModelDetail)
def get_text_model(model_id: str, store: Store) -> TextModelDetail:
    mid = _mid(model_id)
    meta = shown(store, registry.read_meta(store, mid))
    summary = summarize(meta, registry.default_model_id(store), registry.model_dir(store, mid))
    return TextModelDetail(summary=summary, meta=meta)


@router.get("/{model_id}/train_log", response_model=TrainLog)
def train_log(
    model_id: str,
    store: Store,
    after_step: Annotated[
        int | None, Query(ge=0, description="Only rows with step > after_step.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="Most rows to return.")] = 100_000,
) -> TrainLog:
    """train_log.jsonl as JSON rows (a torn last line is skipped)."""
    mid = _mid(model_id)
    meta = shown(store, registry.read_meta(store, mid))
    path = registry.model_dir(store, mid) / LOG_FILE
    rows = read_jsonl(path) if path.exists() else []
    if after_step is not None:
        rows = [r for r in rows if int(r.get("step", 0)) > after_step]
    return TrainLog(
        model_id=mid,
        status=meta["status"],
        step=int(meta.get("step") or 0),
        steps=(meta.get("train_cfg") or {}).get("steps"),
        rows=[TrainLogRow.model_validate(r) for r in rows[:limit]],
    )


class TrainTail:
    """Follows a model's train_log.jsonl (by byte offset) and meta.json status."""

    def __init__(
        self, store: ArtifactStore, model_id: str, *, wait_s: float, poll_s: float = 0.25
    ) -> None:
        self.store, self.model_id = store, model_id
        self.wait_s, self.poll_s = wait_s, poll_s
        self.offset = 0

    def _status(self) -> dict[str, Any] | None:
        try:
            meta = shown(self.store, registry.read_meta(self.store, self.model_id))
        except NotFoundError:
            return None
        return {
            "model_id": self.model_id,
            "status": meta["status"],
            "step": int(meta.get("step") or 0),
            "steps": (meta.get("train_cfg") or {}).get("steps"),
            "error": meta.get("error"),
        }

    def _rows(self) -> list[dict[str, Any]]:
        path = self.store.item_dir(registry.KIND, self.model_id) / LOG_FILE
        data, self.offset = _read_from(path, self.offset)
        rows = []
        for line in data.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and "step" in rec:
                rows.append(TrainLogRow.model_validate(rec).model_dump())
        return rows

    async def stream(self, disconnected: Disconnected) -> AsyncIterator[bytes]:
        yield retry()
        deadline = time.monotonic() + self.wait_s
        status = await to_thread.run_sync(self._status)
        while status is None:
            if time.monotonic() >= deadline or await disconnected():
                yield frame("missing", {"model_id": self.model_id})
                return
            await asyncio.sleep(self.poll_s)
            status = await to_thread.run_sync(self._status)
        yield frame("status", status)
        last_key = (status["status"], status["step"])
        quiet_since = time.monotonic()
        while not await disconnected():
            rows = await to_thread.run_sync(self._rows)
            if rows:
                yield frame("rows", {"rows": rows}, id=self.offset)
                quiet_since = time.monotonic()
            status = await to_thread.run_sync(self._status) or status
            key = (status["status"], status["step"])
            if status["status"] != registry.TRAINING:
                # The trainer appends its last row before it marks the model finished.
                rows = await to_thread.run_sync(self._rows)
                if rows:
                    yield frame("rows", {"rows": rows}, id=self.offset)
                yield frame("status", status)
                return
            if key != last_key:
                last_key = key
                yield frame("status", status)
            if time.monotonic() - quiet_since >= KEEPALIVE_S:
                quiet_since = time.monotonic()
                yield comment()
            await asyncio.sleep(self.poll_s)


@router.get(
    "/{model_id}/stream",
    response_class=StreamingResponse,
    responses=sse_responses(
        TrainStreamEvents,
        "text/event-stream: a `status` event, then `rows` events with new "
        "train_log.jsonl records (and `status` when it changes) until the model stops "
        "training; a final `status`. A model that does not exist yet (a job just started) "
        "is waited for up to `wait_s`, then one `missing` event ends the stream.",
    ),
)
async def stream_train_log(
    model_id: str,
    store: Store,
    request: Request,
    wait_s: Annotated[float, Query(ge=0, le=120, description="Wait for the model.")] = 30.0,
) -> StreamingResponse:
    tail = TrainTail(store, _mid(model_id), wait_s=wait_s)
    return StreamingResponse(
        tail.stream(request.is_disconnected), media_type="text/event-stream", headers=SSE_HEADERS
    )


# ---------------------------------------------------------------------------- actions


@router.post("/train", response_model=Job, status_code=202)
def start_training(body: TrainLmRequest, ctx: Ctx, jobs: Jobs) -> Job:
    """Train a text model as a job. The model id is assigned up front (``params.model_id``)
    so its live curve can be followed at /api/text_models/{model_id}/stream."""
    store = ctx.store
    mid = _mid(body.model_id) if body.model_id else new_id("lm")
    if store.exists(registry.KIND, mid):
        raise HTTPException(409, f"text model {mid!r} already exists")
    corpus = resolve_corpus(body.corpus, store.root, ctx.settings.corpus_dirs)
    params = {**body.model_dump(exclude_none=True), "corpus": corpus, "model_id": mid}
    return Job.model_validate(jobs.submit("train_lm", params, claim=(registry.KIND, mid)))


def _generate(store: ArtifactStore, mid: str, body: GenerateRequest) -> GenerateOut:
    from ttt.models.generate import generate

    lm = registry.load_model(store, mid)
    out = generate(
        lm,
        body.prompt,
        max_tokens=body.max_tokens,
        temperature=body.temperature,
        top_k=body.top_k,
        seed=body.seed,
    )
    return GenerateOut(
        model_id=mid,
        prompt=body.prompt,
        text=out.text,
        n_tokens=len(out.token_ids),
        stopped=out.stopped,
        ms_per_token=out.ms_per_token,
    )


@router.post("/{model_id}/generate", response_model=GenerateOut)
async def generate_text(model_id: str, body: GenerateRequest, store: Store) -> GenerateOut:
    """Sample a continuation of ``prompt`` (runs in a worker thread, off the event loop).
    A model without final weights (training, failed, cancelled) answers 409."""
    mid = _mid(model_id)
    return await to_thread.run_sync(_generate, store, mid, body)


@router.post("/{model_id}/promote", response_model=TextModelSummary)
def promote_model(model_id: str, store: Store) -> TextModelSummary:
    """Make a completed model eligible as the default (409 for other statuses)."""
    meta = registry.promote(store, _mid(model_id))
    return summarize(meta, registry.default_model_id(store))


@router.post("/{model_id}/reject", response_model=TextModelSummary)
def reject_model(model_id: str, store: Store) -> TextModelSummary:
    """Withdraw a model from default use; its files are kept (409 while training)."""
    meta = registry.reject(store, _mid(model_id))
    return summarize(meta, registry.default_model_id(store))
