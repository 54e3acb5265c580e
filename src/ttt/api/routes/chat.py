"""Chat sessions: list, create, detail (with stats over the trace), trace and chunk events
(paginated), a message as a Server-Sent Events stream (reply tokens, then the turn's trace
record), fork, reset, delete, changing the defences, a memory probe (answer and loss with and
without the fast weights; read-only), and flagging a turn for review.

A message runs in a worker thread, never on the event loop: ``ttt.text.chat.send_message``
writes the prompt into the session's fast weights chunk by chunk (each write through the
session's gate, rollback and SPFW), samples the reply and stores the turn, holding the
session's store lock, so two messages to one session are applied one after the other. A
client that disconnects mid-reply does not cancel the turn: it is completed and stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse

from ttt.api.contract import sse_responses
from ttt.api.deps import Store
from ttt.api.errors import status_for, user_config
from ttt.api.models.chat import (
    ChatCreateRequest,
    ChatDeleted,
    ChatEvent,
    ChatEvents,
    ChatFlagRequest,
    ChatForkRequest,
    ChatMessageRequest,
    ChatProbe,
    ChatProbeRequest,
    ChatSafetyPatch,
    ChatSessionDetail,
    ChatSessionInfo,
    ChatSessionList,
    ChatSessionSummary,
    ChatStats,
    ChatStreamDoc,
    ChatTrace,
    ChatTurn,
    FlaggedPrompt,
    FlaggedPromptList,
)
from ttt.api.models.common import ERROR_RESPONSES, ItemError
from ttt.api.routes.text_runs import check_sentry_config, usable_model
from ttt.api.sse import SSE_HEADERS, frame
from ttt.store import ArtifactStore, StoreError, validate_id
from ttt.text import chat
from ttt.text.probe import probe_memory

log = logging.getLogger("ttt.api")

router = APIRouter(prefix="/api/chat/sessions", tags=["chat"], responses=ERROR_RESPONSES)
flagged_router = APIRouter(prefix="/api/flagged_prompts", tags=["chat"], responses=ERROR_RESPONSES)

KIND = "text_sessions"
STOPPED_PREFIX = "rollback_"
BLOCKED = "blocked_gate"


def _sid(session_id: str) -> str:
    return validate_id(session_id, what="chat session id")


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinity replaced by None (SSE data and JSON answers are
    strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def public(rec: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(rec)
    out.pop("schema_version", None)
    return out


# ---------------------------------------------------------------------------- reading


def summarize(session: Mapping[str, Any]) -> ChatSessionSummary:
    fields = {k: v for k, v in session.items() if k in ChatSessionSummary.model_fields}
    fields["safety"] = (session.get("config") or {}).get("safety")
    return ChatSessionSummary.model_validate(fields)


def is_stopped(status: str) -> bool:
    return status == BLOCKED or status.startswith(STOPPED_PREFIX)


def trace_stats(trace: Sequence[Mapping[str, Any]]) -> ChatStats:
    """Figures over every turn of a trace (in order) and its last turn."""
    statuses: dict[str, int] = {}
    for t in trace:
        for u in t.get("updates") or []:
            s = str(u.get("status"))
            statuses[s] = statuses.get(s, 0) + 1
    last = trace[-1] if trace else None
    norm = last.get("fast_weight_norm") if last else None
    return ChatStats(
        n_turns=len(trace),
        blocked_turns=sum(bool(t.get("blocked")) for t in trace),
        chunks=sum(statuses.values()),
        committed_chunks=sum(int(t.get("committed_chunks") or 0) for t in trace),
        stopped_chunks=sum(n for s, n in statuses.items() if is_stopped(s)),
        flagged_turns=sum(bool(t.get("flagged")) for t in trace),
        fast_weight_norm=norm if isinstance(norm, int | float) and math.isfinite(norm) else None,
        statuses=statuses,
        last_turn=ChatTurn.model_validate(finite(public(last))) if last else None,
    )


def detail_of(
    store: ArtifactStore, sid: str, session: Mapping[str, Any] | None = None
) -> ChatSessionDetail:
    session = session if session is not None else chat.read_session(store, sid)
    return ChatSessionDetail(
        session=ChatSessionInfo.model_validate(public(session)),
        stats=trace_stats(chat.read_trace(store, sid)),
    )


# ---------------------------------------------------------------------------- reads


@router.get("", response_model=ChatSessionList)
def list_chat_sessions(
    store: Store,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> ChatSessionList:
    """Summaries, most recently updated first (unreadable sessions are reported in
    ``errors``)."""
    items: list[ChatSessionSummary] = []
    errors: list[ItemError] = []
    for sid in store.list_ids(KIND):
        try:
            items.append(summarize(chat.read_session(store, sid)))
        except StoreError as exc:
            errors.append(ItemError(id=sid, detail=str(exc)))
    items.sort(key=lambda s: (s.updated_at or s.created_at or "", s.session_id), reverse=True)
    return ChatSessionList(items=items[offset : offset + limit], total=len(items), errors=errors)


@router.get("/{session_id}", response_model=ChatSessionDetail)
def get_chat_session(session_id: str, store: Store) -> ChatSessionDetail:
    """session.json (model, defences, sampling, parent) and figures over the trace."""
    return detail_of(store, _sid(session_id))


@router.get("/{session_id}/trace", response_model=ChatTrace)
def chat_trace(
    session_id: str,
    store: Store,
    offset: Annotated[int, Query(ge=0, description="Skip this many turns.")] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> ChatTrace:
    """The turns in order: prompt, reply, gate decision and write status of every prompt
    chunk, fast-weight norm after the turn, latency."""
    sid = _sid(session_id)
    chat.read_session(store, sid)  # 404 naming the session
    trace = chat.read_trace(store, sid)
    page = [ChatTurn.model_validate(finite(public(t))) for t in trace[offset : offset + limit]]
    return ChatTrace(items=page, total=len(trace))


@router.get("/{session_id}/events", response_model=ChatEvents)
def chat_events(
    session_id: str,
    store: Store,
    turn: Annotated[int | None, Query(ge=0, description="Only this turn's chunks.")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> ChatEvents:
    """The full Sentry-format event of every prompt chunk (signals, gate, canary, SPFW), in
    order (a torn last line is skipped)."""
    sid = _sid(session_id)
    events = chat.read_events(store, sid)
    chosen = [e for e in events if turn is None or e.get("turn") == turn]
    page = [ChatEvent.model_validate(finite(public(e))) for e in chosen[offset : offset + limit]]
    return ChatEvents(items=page, total=len(chosen), n_events=len(events))


# ---------------------------------------------------------------------------- actions


@router.post("", response_model=ChatSessionDetail)
def create_chat_session(body: ChatCreateRequest, store: Store) -> ChatSessionDetail:
    """A new session with empty fast weights on a text model (404 unknown model, 409 a model
    without final weights or a taken session id, 422 a bad config naming the field)."""
    check_sentry_config(body.config)  # 422 naming a bad field before anything is made
    mid = usable_model(store, body.model_id)
    sid = _sid(body.session_id) if body.session_id else None
    if sid is not None and store.exists(KIND, sid):
        raise HTTPException(409, f"chat session {sid!r} already exists")
    gen = body.generation.model_dump(exclude_none=True) if body.generation else None
    session = chat.create_session(
        store, model_id=mid, cfg=dict(body.config), session_id=sid, generation=gen
    )
    return detail_of(store, str(session["session_id"]), session)


def _message_work(
    store: ArtifactStore,
    sid: str,
    body: ChatMessageRequest,
    put: Any,
) -> None:
    """Runs in a worker thread: the turn, reporting tokens, then the record or the error."""
    try:
        rec = chat.send_message(
            store,
            sid,
            body.prompt,
            max_tokens=body.max_tokens,
            temperature=body.temperature,
            seed=body.seed,
            on_token=lambda text: put(("token", text)),
        )
    except Exception as exc:
        put(("error", exc))
        return
    put(("turn", rec))


async def message_stream(
    store: ArtifactStore, sid: str, body: ChatMessageRequest
) -> AsyncIterator[bytes]:
    """``token`` events (consecutive tokens that arrive together are sent as one), then one
    ``turn`` event with the stored trace record, or one ``error`` event."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def put(item: tuple[str, Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
            loop.call_soon_threadsafe(queue.put_nowait, item)

    work = loop.run_in_executor(None, _message_work, store, sid, body, put)
    done = False
    while not done:
        items = [await queue.get()]
        while not queue.empty():
            items.append(queue.get_nowait())
        text = ""
        for kind, data in items:
            if kind == "token":
                text += str(data)
                continue
            if text:
                yield frame("token", {"text": text})
                text = ""
            if kind == "turn":
                turn = ChatTurn.model_validate(finite(public(data)))
                yield frame("turn", finite(turn.model_dump()))
            else:
                status = status_for(data)
                if status >= 500:
                    log.error("chat message to %s failed: %s", sid, data, exc_info=data)
                yield frame("error", {"status": status, "detail": str(data) or type(data).__name__})
            done = True
        if text:
            yield frame("token", {"text": text})
    await work


@router.post(
    "/{session_id}/messages",
    response_class=StreamingResponse,
    responses=sse_responses(
        ChatStreamDoc,
        "text/event-stream: `token` events with the reply as it is "
        "sampled (their texts joined are the reply), then one `turn` event with the "
        "turn's trace record (gate decisions and write status of every prompt chunk). "
        "A failure after the stream started ends it with one `error` event "
        "{status, detail} instead of the turn.",
    ),
)
async def send_chat_message(
    session_id: str, body: ChatMessageRequest, store: Store
) -> StreamingResponse:
    sid = _sid(session_id)
    chat.check_prompt(body.prompt)  # 422 before the stream starts (empty, too long...)
    await to_thread.run_sync(chat.read_session, store, sid)  # 404 before the stream starts
    return StreamingResponse(
        message_stream(store, sid, body), media_type="text/event-stream", headers=SSE_HEADERS
    )


@router.post("/{session_id}/fork", response_model=ChatSessionDetail)
def fork_chat_session(session_id: str, body: ChatForkRequest, store: Store) -> ChatSessionDetail:
    """A new session with a copy of this one's fast weights (and, ``with_momentum``, its
    optimiser state); the trace starts empty and ``parent`` names where it branched."""
    sid = _sid(session_id)
    new_id = _sid(body.new_id) if body.new_id else None
    chat.read_session(store, sid)
    if new_id is not None and store.exists(KIND, new_id):
        raise HTTPException(409, f"chat session {new_id!r} already exists")
    forked = chat.fork_session(store, sid, new_id, with_momentum=body.with_momentum)
    return detail_of(store, str(forked["session_id"]), forked)


@router.post("/{session_id}/reset", response_model=ChatSessionDetail)
def reset_chat_session(session_id: str, store: Store) -> ChatSessionDetail:
    """Fast weights and optimiser state back to zero; the trace is kept."""
    sid = _sid(session_id)
    return detail_of(store, sid, chat.reset_session(store, sid))


@router.delete("/{session_id}", response_model=ChatDeleted)
def delete_chat_session(session_id: str, store: Store) -> ChatDeleted:
    """Delete the session's folder (its flagged prompts stay in flagged_prompts.json)."""
    sid = _sid(session_id)
    chat.delete_session(store, sid)
    return ChatDeleted(session_id=sid)


@router.patch("/{session_id}/safety", response_model=ChatSessionDetail)
def patch_chat_safety(session_id: str, body: ChatSafetyPatch, store: Store) -> ChatSessionDetail:
    """Change SentryConfig fields of the session (the safety mode, thresholds, gate
    overrides) for its next writes; 422 naming a bad field."""
    sid = _sid(session_id)
    if not body.overrides:
        raise ValueError("overrides: nothing to change")
    with user_config("safety overrides"):
        updated = chat.set_safety(store, sid, body.overrides)
    return detail_of(store, sid, updated)


@router.post("/{session_id}/probe", response_model=ChatProbe)
def probe_chat_session(session_id: str, body: ChatProbeRequest, store: Store) -> ChatProbe:
    """Memory probe: the greedy answer to a question, and the loss of the expected answer,
    with the session's fast weights and with a fresh session's; read-only (the session's
    files and fast weights are unchanged). Runs in a worker thread under the session's lock,
    like a message."""
    sid = _sid(session_id)
    out = probe_memory(store, sid, body.question, body.expected, max_tokens=body.max_tokens)
    return ChatProbe.model_validate(finite(out))


@router.post("/{session_id}/turns/{turn}/flag", response_model=FlaggedPrompt)
def flag_chat_turn(
    session_id: str, turn: int, body: ChatFlagRequest, store: Store
) -> FlaggedPrompt:
    """Flag a turn's prompt for review: it is appended to flagged_prompts.json (the red
    team's seeds) and the turn is marked ``flagged`` in the trace."""
    sid = _sid(session_id)
    if not body.reason.strip():
        raise ValueError("reason: only whitespace")
    if turn < 0:
        raise ValueError(f"turn must be >= 0, got {turn}")
    return FlaggedPrompt.model_validate(public(chat.flag_turn(store, sid, turn, body.reason)))


# ---------------------------------------------------------------------------- flagged


@flagged_router.get("", response_model=FlaggedPromptList)
def list_flagged_prompts(store: Store) -> FlaggedPromptList:
    """flagged_prompts.json, newest first: prompts flagged in chat (or by sleep's auditor)
    for review. The red team takes the file as seeds (``seeds_file``)."""
    doc = chat.read_flagged(store)
    items = [FlaggedPrompt.model_validate(public(p)) for p in doc["prompts"]]
    items.reverse()  # appended in order: the newest is last
    return FlaggedPromptList(items=items, total=len(items), seeds_file=chat.FLAGGED_FILE)
