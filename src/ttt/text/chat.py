"""Chat sessions with per-session fast weights: a learned context window under the defences.

    sid = create_session(store)["session_id"]                  # default model, safety "all"
    rec = send_message(store, sid, "Zorvath Quillen lives in Marnhold.", on_token=print)
    fork_session(store, sid, with_momentum=False); reset_session(store, sid)
    delete_session(store, sid)
    ttt chat            # interactive REPL (ttt.cli.chat); ttt chat send SID "..." --json

A session is one stored text model (its core frozen; TinyLm or an imported HF model) plus its
own fast weights (TinyLm's context net, or LoRA matrices), their optimiser state and a trace.
One turn, under the session's store lock:

1. load the session's write state into a ``SentryMonitor`` over the cached model
   (``ttt.text.monitor``; ``ttt.text.chat_runtime``);
2. write the prompt (``ttt.text.write``): cut into chunks, each gated and written through one
   engine transaction (canary post-checks with bit-exact rollback, SPFW projection of the
   weight change), read inside the model's chat template; ``chat_config()`` by default
   (``safety="all"``);
3. generate the reply to the prompt (in the chat template, a fresh context) with the core
   frozen and the fast weights applied (KV cache or recurrent state); ``on_token`` receives
   each decoded piece as soon as it forms whole characters;
4. persist: new state folder, events, trace record, then ``session.json`` — the commit point
   (``ttt.text.chat_store``: a kill at any instant leaves the previous or the next turn).

**What a session remembers.** Every turn starts from a fresh context: across turns the session
remembers only what its fast weights learned (the prompts are written, the model's own
completions are not). That is the experiment (``ttt bench memory`` measures it).

**Reset** puts the fast weights back to a fresh session's (``fast_weight_norm`` = 0), clears the
optimiser, engine state and monitor histories, keeps the trace, the events and the turn
numbering, and appends ``{turn, created_at}`` to ``session.json["resets"]``. **Fork** copies
the state (the optimiser state too, or a fresh optimiser with ``with_momentum=False``), not the
trace: the fork's turns start at 0 and ``parent = {session_id, turn, with_momentum}``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ttt.models import registry
from ttt.models.generate import generate_ids
from ttt.models.protocol import chat_prompt
from ttt.safety.auditor import FLAGGED_FILE, add_flagged, read_flagged
from ttt.store import (
    TMP_PREFIX,
    ArtifactStore,
    CorruptFileError,
    NotFoundError,
    StoreError,
    append_jsonl,
    validate_id,
)
from ttt.store import new_id as make_id
from ttt.store.io import fsync_dir
from ttt.text import chat_store as files
from ttt.text.chat_runtime import (
    CHAT_DEFAULTS,
    GenerationConfig,
    ModelMismatchError,
    Runtime,
    chat_config,
    check_prompt,
    check_seed,
    checked_runtime,
    clear_cache,
    fast_weight_norm,
    initial_state_tensors,
    runtime,
    turn_seed,
    without_momentum,
)
from ttt.text.chat_store import list_sessions, read_events, read_session, read_trace
from ttt.text.monitor import SentryConfig, SentryMonitor
from ttt.text.write import WriteConfig, write_message

KIND = files.KIND
ACTIVE = "active"
LOCK_TIMEOUT_S = 60.0

# What the chat domain supports, per safety mechanism (``python -m ttt.safety.coverage``).
SAFETY_SUPPORT: dict[str, str] = {
    "update_transaction": "yes: one engine transaction per prompt chunk on the session's "
    "fast weights (context net or LoRA)",
    "gate": "yes: every prompt chunk, phrases matched across the chunks of a message; on by "
    "default",
    "canary_rollback": "yes: canary delta and robust z per write, bit-exact rollback; on by "
    "default",
    "grad_alignment": "yes: canary cos/dot, grad norm/z, update z, per-token influence "
    "(events.jsonl)",
    "spfw": "yes: half-space or null-space projection of each write; on by default",
}


def _load_into(mon: SentryMonitor, state: files.State, path: Path) -> None:
    try:
        mon.load_fast_weights(state.weights)
        mon.load_state_tensors(state.tensors)
        mon.load_state_record(state.record)
    except (KeyError, ValueError, TypeError) as e:
        raise CorruptFileError(f"{path}: state does not fit the session's model ({e})") from e
    mon.new_document()  # a turn is its own document


class _Background:
    """Run ``fn`` in a thread; ``join()`` waits, re-raises what it raised, returns its value."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._error: BaseException | None = None
        self._value: Any = None

        def run() -> None:
            try:
                self._value = fn()
            except BaseException as e:  # handed to join()
                self._error = e

        self._thread = threading.Thread(target=run, name="ttt-chat-writer", daemon=True)
        self._thread.start()

    def join(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _initial_meta(sid: str, rt: Runtime, cfg: SentryConfig, wcfg: WriteConfig) -> dict[str, Any]:
    now = registry.now_iso()
    return {
        "session_id": sid,
        "model_id": rt.lm.model_id,
        "model_weights_sha256": rt.weights_sha256,
        "backend": rt.lm.backend,
        "plastic": rt.lm.plastic_config(),
        "created_at": now,
        "updated_at": now,
        "config": cfg.to_dict(),
        "write": wcfg.to_dict(),
        "parent": None,
        "n_turns": 0,
        "status": ACTIVE,
        "state_version": 1,
        "state_dir": files.state_name(1),
        "resets": [],
    }


# ---------------------------------------------------------------------------- sessions


def create_session(
    store: ArtifactStore,
    model_id: str | None = None,
    cfg: SentryConfig | Mapping[str, Any] | None = None,
    session_id: str | None = None,
    generation: GenerationConfig | Mapping[str, Any] | None = None,
    write: WriteConfig | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Create ``text_sessions/<id>/`` with fresh fast weights; returns ``session.json``.

    ``model_id`` defaults to the default model; ``cfg`` (a SentryConfig, or fields over the
    backend's chat defaults) to ``chat_config()`` (every defence on); ``session_id`` to a
    fresh ``chat-...`` id (``AlreadyExistsError`` if taken)."""
    gen = (
        generation
        if isinstance(generation, GenerationConfig)
        else GenerationConfig.from_dict(generation or {})
    )
    wcfg = write if isinstance(write, WriteConfig) else WriteConfig.from_dict(write or {})
    sid = session_id if session_id is not None else make_id("chat")
    validate_id(sid, what="text session id")
    mid = registry.resolve_model_id(store, model_id)
    rt = runtime(store, mid)
    sentry = cfg if isinstance(cfg, SentryConfig) else chat_config(cfg, rt.lm.backend)
    with store.lock(KIND, sid, timeout=LOCK_TIMEOUT_S):
        with rt.lock:
            mon = rt.monitor(sentry, store)  # also checks the config against the model
            tensors = initial_state_tensors(mon)
        meta = {**_initial_meta(sid, rt, sentry, wcfg), "generation": gen.to_dict()}

        def build(d: Path) -> dict[str, Any]:
            files.write_state(d, sid, 1, files.State(rt.initial, tensors, files.fresh_record()))
            return files.write_manifest(d, meta)

        return dict(files.new_session_folder(store, sid, build))


def _open(store: ArtifactStore, session_id: str) -> tuple[Path, dict[str, Any]]:
    """A session's folder and manifest, for a writer (who holds the lock): leftovers of a
    killed writer are removed first."""
    d = files.session_dir(store, session_id)
    meta = files.read_manifest(d, session_id)
    files.recover(d, meta)
    return d, meta


def _commit(
    d: Path, session_id: str, meta: Mapping[str, Any], state: files.State, **changes: Any
) -> dict[str, Any]:
    """Write a new state version, then the manifest that names it; the old state folder is
    removed afterwards."""
    version = int(meta["state_version"]) + 1
    name = files.write_state(d, session_id, version, state)
    doc = files.write_manifest(
        d,
        {
            **meta,
            **changes,
            "state_version": version,
            "state_dir": name,
            "updated_at": registry.now_iso(),
        },
    )
    files.recover(d, doc)
    return doc


def send_message(
    store: ArtifactStore,
    session_id: str,
    prompt: str | bytes,
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
    seed: int | None = None,
    on_token: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """One turn: gate and learn the prompt chunk by chunk, generate, persist (module doc).

    Returns the trace record. ``max_tokens`` / ``temperature`` override the session's
    generation settings for this turn; ``seed`` defaults to ``turn_seed(cfg, turn)``.
    ``on_token(piece)`` is called with each decoded piece while the reply is generated."""
    text = check_prompt(prompt)
    check_seed(seed)
    validate_id(session_id, what="text session id")
    with store.lock(KIND, session_id, timeout=LOCK_TIMEOUT_S):
        t0 = time.perf_counter()
        d, meta = _open(store, session_id)
        cfg = SentryConfig.from_dict(meta["config"])
        wcfg = WriteConfig.from_dict(meta.get("write") or {})
        over = {
            k: v
            for k, v in (("max_tokens", max_tokens), ("temperature", temperature))
            if v is not None
        }
        gen = GenerationConfig.from_dict({**meta["generation"], **over})
        rt = checked_runtime(store, meta)
        state = files.read_state(d, meta)
        turn = int(meta["n_turns"])
        turn_s = turn_seed(cfg, turn) if seed is None else seed
        version = int(meta["state_version"]) + 1
        with rt.lock:
            mon = rt.monitor(cfg, store)
            _load_into(mon, state, d)
            t_up = time.perf_counter()
            events = write_message(mon, text, wcfg)
            t_gen = time.perf_counter()
            new_state = files.State(mon.fast_weights(), mon.state_tensors(), mon.state_record())
            # Generation does not touch the fast weights, so the new state is final here: it
            # is written (fsync-bound, off the GIL) while the reply is generated.
            writer = _Background(lambda: files.write_state(d, session_id, version, new_state))
            try:
                ids, completion, stopped, _ = generate_ids(
                    rt.lm,
                    chat_prompt(rt.lm, text),
                    gen.max_tokens,
                    gen.temperature,
                    gen.top_k,
                    turn_s,
                    on_token,
                )
                t_done = time.perf_counter()
            finally:
                state_dir = writer.join()
        for ev in events:
            append_jsonl(d / files.EVENTS_FILE, {**ev, "turn": turn})
        rec = files.trace_record(meta, cfg, turn, text, completion, events)
        rec.update(
            fast_weight_norm=fast_weight_norm(new_state.weights, rt.initial),
            latency_ms={
                "update": (t_gen - t_up) * 1000,
                "generate": (t_done - t_gen) * 1000,
                "total": (time.perf_counter() - t0) * 1000,
            },
            seed=turn_s,
            stopped=stopped,
            completion_tokens=len(ids),
        )
        append_jsonl(d / files.TRACE_FILE, rec)
        doc = files.write_manifest(
            d,
            {
                **meta,
                "n_turns": turn + 1,
                "state_version": version,
                "state_dir": state_dir,
                "updated_at": registry.now_iso(),
            },
        )
        files.recover(d, doc)
        return rec


def fork_session(
    store: ArtifactStore,
    session_id: str,
    new_id: str | None = None,
    *,
    with_momentum: bool = True,
) -> dict[str, Any]:
    """A new session starting from this one's fast weights, engine state and histories;
    the optimiser state is copied, or a fresh optimiser with ``with_momentum=False``."""
    nid = new_id if new_id is not None else make_id("chat")
    validate_id(nid, what="text session id")
    validate_id(session_id, what="text session id")
    if nid == session_id:
        raise ValueError(f"a fork needs a new id, got the parent's {nid!r}")
    with store.lock(KIND, session_id, timeout=LOCK_TIMEOUT_S):
        d, meta = _open(store, session_id)
        state = files.read_state(d, meta)
        tensors = state.tensors if with_momentum else without_momentum(state.tensors)
        # Short timeout: the child is new, so only a racing create of the same id holds it.
        with store.lock(KIND, nid, timeout=5.0):
            now = registry.now_iso()
            child = {
                **meta,
                "session_id": nid,
                "created_at": now,
                "updated_at": now,
                "parent": {
                    "session_id": session_id,
                    "turn": int(meta["n_turns"]),
                    "with_momentum": bool(with_momentum),
                },
                "n_turns": 0,
                "status": ACTIVE,
                "state_version": 1,
                "state_dir": files.state_name(1),
                "resets": [],
            }

            def build(nd: Path) -> dict[str, Any]:
                files.write_state(nd, nid, 1, files.State(state.weights, tensors, state.record))
                return files.write_manifest(nd, child)

            return dict(files.new_session_folder(store, nid, build))


def reset_session(store: ArtifactStore, session_id: str) -> dict[str, Any]:
    """Fresh fast weights and write state; the trace, events and turn numbering are kept
    and the reset is appended to ``session.json["resets"]``."""
    validate_id(session_id, what="text session id")
    with store.lock(KIND, session_id, timeout=LOCK_TIMEOUT_S):
        d, meta = _open(store, session_id)
        cfg = SentryConfig.from_dict(meta["config"])
        rt = checked_runtime(store, meta)
        with rt.lock:
            tensors = initial_state_tensors(rt.monitor(cfg, store))
        try:
            rec = files.read_state(d, meta).record
            counters = (int(rec["n_chunks"]), int(rec["n_tokens"]))
        except (StoreError, OSError, KeyError, ValueError):
            counters = (0, 0)
        n_turns = int(meta["n_turns"])
        state = files.State(rt.initial, tensors, files.fresh_record(*counters))
        now = registry.now_iso()
        resets = [*meta.get("resets", []), {"turn": n_turns, "created_at": now}]
        return _commit(d, session_id, meta, state, resets=resets)


def delete_session(store: ArtifactStore, session_id: str) -> None:
    """Remove the session's folder (under its lock; moved aside first, so no reader ever
    sees half a folder)."""
    validate_id(session_id, what="text session id")
    with store.lock(KIND, session_id, timeout=LOCK_TIMEOUT_S):
        d = files.session_dir(store, session_id)
        aside = d.parent / f"{TMP_PREFIX}deleted-{session_id}-{secrets.token_hex(4)}"
        os.replace(d, aside)
        fsync_dir(d.parent)
        shutil.rmtree(aside)


def set_safety(
    store: ArtifactStore, session_id: str, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """Change SentryConfig fields of a session (validated); returns ``session.json``.

    A new ``lr`` also becomes the engine's current lr (the stored one would otherwise win)."""
    if not isinstance(overrides, Mapping):
        raise ValueError(f"overrides must be an object, got {type(overrides).__name__}")
    validate_id(session_id, what="text session id")
    with store.lock(KIND, session_id, timeout=LOCK_TIMEOUT_S):
        d, meta = _open(store, session_id)
        cfg = SentryConfig.from_dict({**meta["config"], **dict(overrides)})
        if cfg.optimizer != meta["config"].get("optimizer", "muon"):
            raise ValueError(
                "SentryConfig.optimizer cannot change in a running session (its optimiser "
                "state belongs to the old one); fork it with --no-momentum first"
            )
        if cfg.lr == meta["config"]["lr"]:
            return files.write_manifest(
                d, {**meta, "config": cfg.to_dict(), "updated_at": registry.now_iso()}
            )
        state = files.read_state(d, meta)
        tensors = dict(state.tensors)
        if "engine.lr" in tensors:
            tensors["engine.lr"] = tensors["engine.lr"].new_full(tensors["engine.lr"].shape, cfg.lr)
        new = files.State(state.weights, tensors, state.record)
        return _commit(d, session_id, meta, new, config=cfg.to_dict())


# ---------------------------------------------------------------------------- probes


@contextlib.contextmanager
def loaded(store: ArtifactStore, session_id: str) -> Iterator[SentryMonitor]:
    """The session's monitor with its state loaded (session and model locks held)."""
    validate_id(session_id, what="text session id")
    with store.lock(KIND, session_id, timeout=LOCK_TIMEOUT_S):
        d = files.session_dir(store, session_id)
        meta = files.read_manifest(d, session_id)
        cfg = SentryConfig.from_dict(meta["config"])
        rt = checked_runtime(store, meta)
        state = files.read_state(d, meta)
        with rt.lock:
            mon = rt.monitor(cfg, store)
            _load_into(mon, state, d)
            yield mon


def continuation_loss(
    store: ArtifactStore, session_id: str, prompt: str, continuation: str
) -> float:
    """Mean loss of ``continuation`` as the reply to ``prompt`` (in the chat template, a
    fresh context) under the session's fast weights; nothing is written."""
    check_prompt(prompt)
    if not isinstance(continuation, str) or not continuation:
        raise ValueError("continuation is empty")
    with loaded(store, session_id) as mon:
        return mon.reply_loss(prompt, continuation)


def complete_text(
    store: ArtifactStore,
    session_id: str,
    prompt: str,
    *,
    max_tokens: int = 16,
    temperature: float = 0.0,
    top_k: int | None = None,
    seed: int = 0,
) -> str:
    """The reply to ``prompt`` under the session's fast weights without a write or a trace
    record (greedy by default)."""
    text = check_prompt(prompt)
    GenerationConfig(max_tokens=max_tokens, temperature=temperature, top_k=top_k)
    check_seed(seed)
    with loaded(store, session_id) as mon:
        ids = chat_prompt(mon.lm, text)
        return generate_ids(mon.lm, ids, max_tokens, temperature, top_k, seed)[1]


# ---------------------------------------------------------------------------- flagged prompts


def flag_turn(store: ArtifactStore, session_id: str, turn: int, reason: str) -> dict[str, Any]:
    """Flag a turn's prompt: add it to ``flagged_prompts.json`` (source "chat") and mark the
    trace record ``flagged: true`` with ``flag_reason``. Idempotent per (session, turn)."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("reason must be a non-empty string")
    if len(reason) > 2000:
        raise ValueError(f"reason has {len(reason)} characters, more than 2000")
    if isinstance(turn, bool) or not isinstance(turn, int) or turn < 0:
        raise ValueError(f"turn must be an int >= 0, got {turn!r}")
    validate_id(session_id, what="text session id")
    with store.lock(KIND, session_id, timeout=LOCK_TIMEOUT_S):
        d, meta = _open(store, session_id)
        trace = files.committed_records(d, files.TRACE_FILE, int(meta["n_turns"]))
        idx = next((i for i, r in enumerate(trace) if r.get("turn") == turn), None)
        if idx is None:
            raise NotFoundError(f"text session {session_id!r} has no turn {turn}")
        rec = trace[idx]
        fid = "chat-" + hashlib.sha256(f"{session_id}\0{turn}".encode()).hexdigest()[:16]
        entry = {
            "id": fid,
            "text": rec["prompt"],
            "source": "chat",
            "session_id": session_id,
            "turn": turn,
            "model_id": meta["model_id"],
            "reason": reason.strip(),
            "created_at": registry.now_iso(),
        }
        stored = add_flagged(store, [entry])[0]
        if not rec.get("flagged"):
            trace[idx] = {**rec, "flagged": True, "flag_reason": stored["reason"]}
            files.rewrite_records(d, files.TRACE_FILE, trace)
        return stored


__all__ = [
    "CHAT_DEFAULTS",
    "FLAGGED_FILE",
    "KIND",
    "SAFETY_SUPPORT",
    "GenerationConfig",
    "ModelMismatchError",
    "WriteConfig",
    "add_flagged",
    "chat_config",
    "check_prompt",
    "clear_cache",
    "complete_text",
    "continuation_loss",
    "create_session",
    "delete_session",
    "flag_turn",
    "fork_session",
    "list_sessions",
    "loaded",
    "read_events",
    "read_flagged",
    "read_session",
    "read_trace",
    "reset_session",
    "send_message",
    "set_safety",
    "turn_seed",
]
