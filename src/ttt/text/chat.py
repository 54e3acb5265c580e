"""Chat sessions with per-session fast weights: a learned context window under the defences.

    sid = create_session(store)["session_id"]                  # default model, safety "all"
    rec = send_message(store, sid, "Zorvath Quillen lives in Marnhold.", on_token=print)
    fork_session(store, sid, with_momentum=False); reset_session(store, sid)
    delete_session(store, sid)
    ttt chat            # interactive REPL (ttt.cli.chat); ttt chat send SID "..." --json

A session is one stored text model (its core frozen) plus its own fast weights (the TinyLm
context net), their optimiser state and a trace. One turn, under the session's store lock:

1. load the session's write state into a ``SentryMonitor`` built on the cached model
   (``ttt.text.sentry``: the monitor is the per-chunk machinery; chat reuses it whole);
2. cut the prompt into chunks and run each through the monitor: signals, gate, one engine
   transaction on the context net (canary post-checks with bit-exact rollback, SPFW
   projection of the weight change); ``chat_config()`` by default (``safety="all"``, lr
   0.05, 2 steps per write);
3. generate from the state the monitor already computed for the update: the backbone state
   after ``<|bos|> prompt[:-1]`` plus one ``model.step`` on the prompt's last token gives
   the logits after the whole prompt (the context net sits after the backbone, so the
   features do not depend on the fast weights), then one ``model.step`` per new token;
   ``on_token`` receives each decoded piece as soon as it forms whole characters;
4. persist the state, the events and the trace record (files below); return the record.

**What a session remembers.** Every turn starts the recurrent state fresh: across turns the
session remembers only what its fast weights learned (the prompts are written, the model's
own completions are not). That is the point of the experiment (``benchmarks/bench_chat.py``
measures it); the text itself is kept in the trace.

**Files** (``text_sessions/<session_id>/``; this list is the contract):

* ``session.json``: ids, model and its ``weights_sha256``, ``config`` (SentryConfig),
  ``generation``, ``parent``, ``n_turns``, ``status``; plus ``state_version`` (bumped by
  every state write) and ``resets`` (``[{turn, created_at}]``: a reset is recorded here,
  never as a record in ``trace.jsonl``, which holds exactly one record per turn);
* ``context_state.safetensors``: ``context.down``, ``context.up`` after the last turn;
* ``optim_state.safetensors``: ``optim.<param>.momentum_buffer`` (Muon) and ``engine.*``
  (lr, attempt counter, committed-value histories), so a reloaded session continues
  bit-exactly;
* ``monitor_state.json``: the monitor's committed histories and chunk counters;
* ``trace.jsonl``: one record per turn (prompt, completion, gate decisions, update
  statuses, latency...); ``events.jsonl``: the full Sentry event of every prompt chunk
  (text kept), with ``turn`` added. ``chunk`` numbers run across the whole session.

The three state files carry ``state_version`` (safetensors metadata / JSON field) and are
written before the trace and ``session.json``; a session whose files disagree (a writer
killed mid-turn) is refused with a clear error until it is reset.

**Reset** puts the fast weights back to the model's fresh context net (``up`` = 0, so the
context net adds nothing: ``fast_weight_norm`` = 0), clears the optimiser and engine state
and the monitor's histories, keeps the trace, the events and the turn numbering, and appends
``{turn, created_at}`` to ``session.json["resets"]``. **Fork** copies the state (the
momentum, or zeros in its place with ``with_momentum=False``), not the trace: the fork's
turns start at 0 and ``parent = {session_id, turn: parent's n_turns, with_momentum}``.

``fast_weight_norm`` is the Frobenius norm of (fast weights − the fresh context net): how
much has been written, 0 for a new or reset session.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ttt.configs import from_dict
from ttt.engine import BLOCKED_GATE
from ttt.models import registry
from ttt.models.generate import sample_continuation
from ttt.models.registry import LoadedLm, ModelStateError
from ttt.models.tokenizer import BpeTokenizer
from ttt.safety.auditor import FLAGGED_FILE, add_flagged, read_flagged
from ttt.store import (
    SCHEMA_VERSION,
    TMP_PREFIX,
    ArtifactStore,
    CorruptFileError,
    NotFoundError,
    StoreError,
    append_jsonl,
    atomic_write_text,
    read_json,
    read_jsonl,
    read_tensor_metadata,
    read_tensors,
    validate_id,
    write_json,
    write_tensors,
)
from ttt.store import new_id as make_id
from ttt.store.io import fsync_dir
from ttt.text.sentry import SentryConfig, SentryMonitor

KIND = "text_sessions"
SESSION_FILE = "session.json"
CONTEXT_FILE = "context_state.safetensors"
OPTIM_FILE = "optim_state.safetensors"
MONITOR_FILE = "monitor_state.json"
TRACE_FILE = "trace.jsonl"
EVENTS_FILE = "events.jsonl"
ACTIVE = "active"
LOCK_TIMEOUT_S = 60.0
MAX_PROMPT_CHARS = 100_000
MAX_GEN_TOKENS = 4096
_STATE_FORMAT = "ttt-chat-state-v1"
# Chat's write settings where they differ from SentryConfig's (which are tuned for streaming
# documents): each prompt is written with 2 Muon steps at lr 0.05. Chosen on
# benchmarks/bench_chat.py seeds 0-2 (best fact-specific loss drop under safety "all") and
# confirmed on seeds 3-5: 2.36 nats drop vs 0.40 with the Sentry's lr 0.02 x 1 step, every
# write committed, canary loss lower after the turns.
CHAT_DEFAULTS: dict[str, Any] = {"lr": 0.05, "steps_per_update": 2}


def chat_config(overrides: Mapping[str, Any] | None = None) -> SentryConfig:
    """A chat session's SentryConfig: ``CHAT_DEFAULTS`` over SentryConfig's defaults (every
    defence on), then ``overrides``."""
    return SentryConfig.from_dict({**CHAT_DEFAULTS, **(overrides or {})})


# What the chat domain supports, per safety mechanism (``python -m ttt.safety.coverage``).
SAFETY_SUPPORT: dict[str, str] = {
    "update_transaction": "yes: one engine transaction per prompt chunk on the session's "
    "context net",
    "gate": "yes: every prompt chunk, phrases matched across the chunks of a message; on by "
    "default",
    "canary_rollback": "yes: canary delta and robust z per write, bit-exact rollback; on by "
    "default",
    "grad_alignment": "yes: canary cos/dot, grad norm/z, update z, per-token influence "
    "(events.jsonl)",
    "spfw": "yes: half-space or null-space projection of each write; on by default",
}


class ModelMismatchError(ModelStateError):
    """A session's model no longer has the weights the session's fast weights were learned on."""


# ---------------------------------------------------------------------------- config


@dataclass
class GenerationConfig:
    """How a turn's reply is sampled (greedy when ``temperature`` is 0)."""

    max_tokens: int = 64
    temperature: float = 0.8
    top_k: int | None = 40

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"GenerationConfig.{name} {why}, got {getattr(self, name)!r}")

        m = self.max_tokens
        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m <= MAX_GEN_TOKENS:
            raise bad("max_tokens", f"must be an int in [0, {MAX_GEN_TOKENS}]")
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
            raise bad("temperature", "must be a finite number")
        if not 0 <= t <= 100:
            raise bad("temperature", "must be in [0, 100]")
        k = self.top_k
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise bad("top_k", "must be an int >= 1 or null (no limit)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GenerationConfig:
        return from_dict(cls, d, "GenerationConfig")


def check_prompt(prompt: str | bytes) -> str:
    """The prompt as text, or ``ValueError``: not UTF-8, lone surrogates, empty, too long."""
    if isinstance(prompt, (bytes, bytearray)):
        try:
            prompt = bytes(prompt).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"prompt is not valid UTF-8 (bad byte at offset {e.start})") from e
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"prompt is not valid Unicode text (lone surrogate at index {e.start})"
        ) from e
    if not prompt.strip():
        raise ValueError("prompt is empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"prompt has {len(prompt)} characters, more than {MAX_PROMPT_CHARS}")
    return prompt


def _check_seed(seed: int | None) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    return seed


def turn_seed(cfg: SentryConfig, turn: int) -> int:
    """The sampling seed of a turn when none is given: a function of the config and turn."""
    return (cfg.seed * 1_000_003 + turn) % (2**63)


# ---------------------------------------------------------------------------- model cache


class _Runtime:
    """One loaded model shared by the sessions that use it, with one monitor per config.

    The monitors all write the same context-net tensors, so a turn holds ``lock`` from
    loading its session's state to reading the new state back."""

    def __init__(self, lm: LoadedLm, weights_sha256: str) -> None:
        self.lm = lm
        self.weights_sha256 = weights_sha256
        # A fresh session's fast weights: the stored down projection, up = 0.
        self.initial = {
            n: (torch.zeros_like(p) if n == "context.up" else p.detach().clone())
            for n, p in lm.model.plastic_parameters().items()
        }
        self.lock = threading.Lock()
        self._monitors: OrderedDict[str, SentryMonitor] = OrderedDict()

    def monitor(self, cfg: SentryConfig, store: ArtifactStore) -> SentryMonitor:
        key = json.dumps(cfg.to_dict(), sort_keys=True)
        mon = self._monitors.get(key)
        if mon is None:
            mon = SentryMonitor(self.lm, cfg, store=store)
            self._monitors[key] = mon
            while len(self._monitors) > 8:
                self._monitors.popitem(last=False)
        self._monitors.move_to_end(key)
        return mon


_CACHE: OrderedDict[tuple[Any, ...], _Runtime] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def clear_cache() -> None:
    """Forget every loaded model (the next turn loads from disk, as a new process would)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _runtime(store: ArtifactStore, model_id: str) -> _Runtime:
    meta = registry.read_meta(store, model_id)
    path = registry.model_dir(store, model_id) / registry.WEIGHTS_FILE
    try:
        st = path.stat()
        stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
    except FileNotFoundError:
        stamp = None  # load_model explains (still training, failed...)
    key = (str(store.root), model_id, meta.get("weights_sha256"), stamp)
    with _CACHE_LOCK:
        rt = _CACHE.get(key)
        if rt is None:
            lm = registry.load_model(store, model_id)
            sha = meta.get("weights_sha256") or registry.weights_sha256(lm.model.state_dict())
            rt = _Runtime(lm, str(sha))
            _CACHE[key] = rt
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        _CACHE.move_to_end(key)
        return rt


def _checked_runtime(store: ArtifactStore, meta: Mapping[str, Any]) -> _Runtime:
    sid, mid = meta["session_id"], meta["model_id"]
    try:
        rt = _runtime(store, mid)
    except NotFoundError as e:
        raise NotFoundError(
            f"text session {sid!r} uses text model {mid!r}, which is gone ({e})"
        ) from e
    if rt.weights_sha256 != meta.get("model_weights_sha256"):
        raise ModelMismatchError(
            f"text session {sid!r} was learned on text model {mid!r} with weights sha256 "
            f"{str(meta.get('model_weights_sha256'))[:12]}..., but that model's weights now "
            f"hash to {rt.weights_sha256[:12]}...; its fast weights do not fit them. Start a "
            "new session on the model."
        )
    return rt


# ---------------------------------------------------------------------------- files


def _dir(store: ArtifactStore, session_id: str) -> Path:
    return store.item_dir(KIND, session_id, must_exist=True)


def _read_meta(d: Path, session_id: str) -> dict[str, Any]:
    path = d / SESSION_FILE
    if not path.exists():
        raise NotFoundError(
            f"text session {session_id!r} has no {SESSION_FILE} (still being created, or "
            f"broken: {path})"
        )
    return read_json(path)


def _write_meta(d: Path, meta: dict[str, Any]) -> dict[str, Any]:
    meta = {"schema_version": SCHEMA_VERSION, **meta}
    meta["schema_version"] = SCHEMA_VERSION
    write_json(d / SESSION_FILE, meta)
    return meta


def _write_state(
    d: Path,
    session_id: str,
    version: int,
    weights: Mapping[str, Tensor],
    tensors: Mapping[str, Tensor],
    record: Mapping[str, Any],
) -> None:
    tag = {"format": _STATE_FORMAT, "session_id": session_id, "state_version": str(version)}
    write_tensors(d / CONTEXT_FILE, weights, metadata=tag)
    write_tensors(d / OPTIM_FILE, tensors, metadata=tag)
    write_json(d / MONITOR_FILE, {**record, "session_id": session_id, "state_version": version})


@dataclass
class _State:
    weights: dict[str, Tensor]
    tensors: dict[str, Tensor]
    record: dict[str, Any]


def _read_state(d: Path, meta: Mapping[str, Any]) -> _State:
    """The three state files, checked to belong to the same write as ``session.json``."""
    sid, want = meta["session_id"], int(meta["state_version"])
    versions: dict[str, Any] = {}
    for name in (CONTEXT_FILE, OPTIM_FILE):
        md = read_tensor_metadata(d / name)
        versions[name] = md.get("state_version")
    record = read_json(d / MONITOR_FILE)
    versions[MONITOR_FILE] = record.get("state_version")
    if any(str(v) != str(want) for v in versions.values()):
        found = ", ".join(f"{k}: {v}" for k, v in versions.items())
        raise CorruptFileError(
            f"text session {sid!r} ({d}) was interrupted while writing its state: "
            f"{SESSION_FILE} is at state_version {want} but {found}. Reset it "
            f"(`ttt chat reset {sid}`) to continue from fresh fast weights, or delete it."
        )
    for key in ("grad_hist", "update_hist", "n_chunks", "n_tokens"):
        if key not in record:
            raise CorruptFileError(f"{d / MONITOR_FILE}: missing field {key!r}")
    tensors = read_tensors(d / OPTIM_FILE, check_finite=False)  # empty history slots are NaN
    for name, t in tensors.items():
        if not name.startswith("engine.history") and not bool(torch.isfinite(t).all()):
            raise CorruptFileError(f"{d / OPTIM_FILE}: tensor {name!r} has non-finite values")
    return _State(read_tensors(d / CONTEXT_FILE), tensors, record)


def _load_into(mon: SentryMonitor, state: _State, path: Path) -> None:
    try:
        mon.load_fast_weights(state.weights)
        mon.load_state_tensors(state.tensors)
        mon.load_state_record(state.record)
    except (KeyError, ValueError, TypeError) as e:
        raise CorruptFileError(f"{path}: state does not fit the session's model ({e})") from e
    # A turn is its own document: fresh recurrent state and gate carry.
    mon.state = mon.model.init_state(1)
    mon.prev_token = mon.bos
    if mon.gate_stream is not None:
        mon.gate_stream.reset()


def _fresh_record(n_chunks: int = 0, n_tokens: int = 0) -> dict[str, Any]:
    return {"grad_hist": [], "update_hist": [], "n_chunks": n_chunks, "n_tokens": n_tokens}


def _fast_weight_norm(weights: Mapping[str, Tensor], initial: Mapping[str, Tensor]) -> float:
    sq = sum(float((weights[n].double() - initial[n].double()).pow(2).sum()) for n in initial)
    return math.sqrt(sq)


class _Background:
    """Run ``fn`` in a thread; ``join()`` waits and re-raises what it raised."""

    def __init__(self, fn: Callable[[], None]) -> None:
        self._error: BaseException | None = None

        def run() -> None:
            try:
                fn()
            except BaseException as e:  # handed to join()
                self._error = e

        self._thread = threading.Thread(target=run, name="ttt-chat-writer", daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


# ---------------------------------------------------------------------------- generation


class _StreamDecoder:
    """Generated ids -> text pieces, each handed out as soon as it forms whole characters.

    A byte-level token can end inside a multi-byte UTF-8 character (it then decodes to a
    trailing U+FFFD): such pieces wait for the next tokens (at most 8, after which the bytes
    are invalid anyway). The completion is the concatenation of the pieces."""

    def __init__(self, tokenizer: BpeTokenizer, on_token: Callable[[str], None] | None) -> None:
        self.tokenizer = tokenizer
        self.on_token = on_token
        self.pending: list[int] = []
        self.pieces: list[str] = []

    def push(self, token_id: int) -> None:
        self.pending.append(token_id)
        text = self.tokenizer.decode(self.pending)
        if text.endswith("\ufffd") and len(self.pending) < 8:
            return
        self._emit(text)

    def finish(self) -> None:
        if self.pending:
            self._emit(self.tokenizer.decode(self.pending))

    def _emit(self, text: str) -> None:
        self.pending = []
        if text:
            self.pieces.append(text)
            if self.on_token is not None:
                self.on_token(text)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


@torch.no_grad()
def _generate(
    mon: SentryMonitor,
    gen: GenerationConfig,
    seed: int,
    on_token: Callable[[str], None] | None,
) -> tuple[list[int], str, str]:
    """Sample a reply from the monitor's carried state: (ids, text, "eos" | "max_tokens").

    ``mon.state`` is the backbone state after every prompt token but the last, which is
    ``mon.prev_token``; sampling is ``ttt.models.generate.sample_continuation``."""
    if gen.max_tokens == 0:
        return [], "", "max_tokens"
    dec = _StreamDecoder(mon.tokenizer, on_token)
    logits, state = mon.model.step(torch.tensor([mon.prev_token]), mon.state)  # (1, V)
    g = torch.Generator().manual_seed(seed)
    out, stopped = sample_continuation(
        mon.model,
        mon.tokenizer,
        logits,
        state,
        gen.max_tokens,
        gen.temperature,
        gen.top_k,
        g,
        on_id=dec.push,
    )
    dec.finish()
    return out, dec.text, stopped


def _prefill(mon: SentryMonitor, text: str) -> list[int]:
    """Feed ``<|bos|> text[:-1]`` from a fresh state (no write); returns text's ids."""
    ids = mon.tokenizer.encode(text)
    if not ids:
        raise ValueError("text has no tokens")
    with torch.no_grad():
        _, state = mon.model.features(torch.tensor([[mon.bos, *ids[:-1]]]))
    mon.state = state
    mon.prev_token = ids[-1]
    return ids


# ---------------------------------------------------------------------------- sessions


def create_session(
    store: ArtifactStore,
    model_id: str | None = None,
    cfg: SentryConfig | Mapping[str, Any] | None = None,
    session_id: str | None = None,
    generation: GenerationConfig | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Create ``text_sessions/<id>/`` with fresh fast weights; returns ``session.json``.

    ``model_id`` defaults to the default model; ``cfg`` (a SentryConfig, or fields over the
    chat defaults) to ``chat_config()`` (every defence on); ``session_id`` to a fresh
    ``chat-...`` id (``AlreadyExistsError`` if taken)."""
    sentry = cfg if isinstance(cfg, SentryConfig) else chat_config(cfg)
    gen = (
        generation
        if isinstance(generation, GenerationConfig)
        else GenerationConfig.from_dict(generation or {})
    )
    sid = session_id if session_id is not None else make_id("chat")
    validate_id(sid, what="text session id")
    mid = registry.resolve_model_id(store, model_id)
    rt = _runtime(store, mid)
    with store.lock(KIND, sid, timeout=LOCK_TIMEOUT_S):
        d = store.create_item(KIND, sid)
        try:
            with rt.lock:
                mon = rt.monitor(sentry, store)  # also checks the config against the model
                mon.load_fast_weights(rt.initial)
                mon.reset_write_state()
                tensors = mon.state_tensors()
            _write_state(d, sid, 1, rt.initial, tensors, _fresh_record())
            now = registry.now_iso()
            meta: dict[str, Any] = {
                "session_id": sid,
                "model_id": mid,
                "model_weights_sha256": rt.weights_sha256,
                "created_at": now,
                "updated_at": now,
                "config": sentry.to_dict(),
                "generation": gen.to_dict(),
                "parent": None,
                "n_turns": 0,
                "status": ACTIVE,
                "state_version": 1,
                "resets": [],
            }
            return _write_meta(d, meta)
        except BaseException:
            shutil.rmtree(d, ignore_errors=True)
            raise


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
    _check_seed(seed)
    validate_id(session_id, what="text session id")
    with store.lock(KIND, session_id, timeout=LOCK_TIMEOUT_S):
        t0 = time.perf_counter()
        d = _dir(store, session_id)
        meta = _read_meta(d, session_id)
        cfg = SentryConfig.from_dict(meta["config"])
        over = {
            k: v
            for k, v in (("max_tokens", max_tokens), ("temperature", temperature))
            if v is not None
        }
        gen = GenerationConfig.from_dict({**meta["generation"], **over})
        rt = _checked_runtime(store, meta)
        state = _read_state(d, meta)
        turn = int(meta["n_turns"])
        turn_s = turn_seed(cfg, turn) if seed is None else seed
        version = int(meta["state_version"]) + 1
        with rt.lock:
            mon = rt.monitor(cfg, store)
            _load_into(mon, state, d)
            t_up = time.perf_counter()
            events = [mon.process_chunk(ch, keep_text=True) for ch in mon.chunks(text)]
            t_gen = time.perf_counter()
            weights = mon.fast_weights()
            tensors = mon.state_tensors()
            record = mon.state_record()
            # Generation does not touch the fast weights, so the new state is final here: it
            # is written (fsync-bound, off the GIL) while the reply is generated.
            writer = _Background(
                lambda: _write_state(d, session_id, version, weights, tensors, record)
            )
            try:
                ids, completion, stopped = _generate(mon, gen, turn_s, on_token)
                t_done = time.perf_counter()
                writer.join()
            except BaseException:
                # No trace record for this turn, so the state files go back to the
                # previous turn's (same tensors, same version as session.json).
                with contextlib.suppress(BaseException):
                    writer.join()
                _write_state(d, session_id, version - 1, state.weights, state.tensors, state.record)
                raise
        for ev in events:
            append_jsonl(d / EVENTS_FILE, {**ev, "turn": turn})
        rec = {
            "schema_version": SCHEMA_VERSION,
            "turn": turn,
            "created_at": registry.now_iso(),
            "prompt": text,
            "completion": completion,
            "blocked": any(e["status"] == BLOCKED_GATE for e in events),
            "gate": [
                {
                    "chunk": e["chunk"],
                    "allowed": e["gate"]["allowed"],
                    "reasons": e["gate"]["reasons"],
                    "rules": e["gate"]["rules"],
                }
                for e in events
                if e["gate"] is not None
            ],
            "updates": [
                {
                    "chunk": e["chunk"],
                    "status": e["status"],
                    "reasons": e["reasons"],
                    "committed": e["committed"],
                    "canary_delta": e["canary"]["delta"],
                    "update_norm": e["update_norm"],
                }
                for e in events
            ],
            "committed_chunks": sum(1 for e in events if e["committed"]),
            "fast_weight_norm": _fast_weight_norm(weights, rt.initial),
            "latency_ms": {
                "update": (t_gen - t_up) * 1000,
                "generate": (t_done - t_gen) * 1000,
                "total": (time.perf_counter() - t0) * 1000,
            },
            "model_id": meta["model_id"],
            "flagged": False,
            "seed": turn_s,
            "stopped": stopped,
            "prompt_tokens": sum(e["token_end"] - e["token_start"] for e in events),
            "completion_tokens": len(ids),
            "safety": cfg.safety,
        }
        append_jsonl(d / TRACE_FILE, rec)
        _write_meta(
            d,
            {
                **meta,
                "n_turns": turn + 1,
                "state_version": version,
                "updated_at": registry.now_iso(),
            },
        )
        return rec


def read_session(store: ArtifactStore, session_id: str) -> dict[str, Any]:
    """``session.json`` of a session (``NotFoundError`` naming an unknown id)."""
    return _read_meta(_dir(store, session_id), session_id)


def read_trace(store: ArtifactStore, session_id: str) -> list[dict[str, Any]]:
    """The session's turn records, oldest first."""
    p = _dir(store, session_id) / TRACE_FILE
    return read_jsonl(p) if p.exists() else []


def read_events(
    store: ArtifactStore, session_id: str, turn: int | None = None
) -> list[dict[str, Any]]:
    """The session's chunk events (every turn, or one ``turn``), oldest first."""
    p = _dir(store, session_id) / EVENTS_FILE
    events = read_jsonl(p) if p.exists() else []
    return events if turn is None else [e for e in events if e.get("turn") == turn]


def list_sessions(store: ArtifactStore) -> list[dict[str, Any]]:
    """``session.json`` of every session, most recently updated first (an unreadable one
    is listed as ``{session_id, status: "unreadable", error}``)."""
    out: list[dict[str, Any]] = []
    for sid in store.list_ids(KIND):
        try:
            out.append(read_session(store, sid))
        except (StoreError, OSError) as e:
            out.append({"session_id": sid, "status": "unreadable", "error": str(e)})
    out.sort(key=lambda m: (str(m.get("updated_at", "")), m["session_id"]), reverse=True)
    return out


def fork_session(
    store: ArtifactStore,
    session_id: str,
    new_id: str | None = None,
    *,
    with_momentum: bool = True,
) -> dict[str, Any]:
    """A new session starting from this one's fast weights, engine state and histories;
    the optimiser momentum is copied, or zeroed with ``with_momentum=False``."""
    nid = new_id if new_id is not None else make_id("chat")
    validate_id(nid, what="text session id")
    validate_id(session_id, what="text session id")
    if nid == session_id:
        raise ValueError(f"a fork needs a new id, got the parent's {nid!r}")
    with store.lock(KIND, session_id, timeout=LOCK_TIMEOUT_S):
        d = _dir(store, session_id)
        meta = _read_meta(d, session_id)
        state = _read_state(d, meta)
        tensors = dict(state.tensors)
        if not with_momentum:
            tensors = {
                k: torch.zeros_like(v) if k.startswith("optim.") else v for k, v in tensors.items()
            }
        # Short timeout: the child is new, so only a racing create of the same id holds it.
        with store.lock(KIND, nid, timeout=5.0):
            nd = store.create_item(KIND, nid)
            try:
                _write_state(nd, nid, 1, state.weights, tensors, state.record)
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
                    "resets": [],
                }
                return _write_meta(nd, child)
            except BaseException:
                shutil.rmtree(nd, ignore_errors=True)
                raise


def _counters(d: Path) -> tuple[int, int]:
    """Chunks and tokens processed so far (from the monitor state, else from the events)."""
    with contextlib.suppress(StoreError, KeyError, TypeError, ValueError):
        rec = read_json(d / MONITOR_FILE)
        return int(rec["n_chunks"]), int(rec["n_tokens"])
    events = read_jsonl(d / EVENTS_FILE) if (d / EVENTS_FILE).exists() else []
    return len(events), sum(int(e["token_end"]) - int(e["token_start"]) for e in events)


def reset_session(store: ArtifactStore, session_id: str) -> dict[str, Any]:
    """Fresh fast weights and write state; the trace, events and turn numbering are kept
    and the reset is appended to ``session.json["resets"]``. Also the way out of a session
    whose state files were torn by a killed writer."""
    validate_id(session_id, what="text session id")
    with store.lock(KIND, session_id, timeout=LOCK_TIMEOUT_S):
        d = _dir(store, session_id)
        meta = _read_meta(d, session_id)
        cfg = SentryConfig.from_dict(meta["config"])
        rt = _checked_runtime(store, meta)
        with rt.lock:
            mon = rt.monitor(cfg, store)
            mon.reset_write_state()
            tensors = mon.state_tensors()
        trace = read_jsonl(d / TRACE_FILE) if (d / TRACE_FILE).exists() else []
        n_turns = max(int(meta["n_turns"]), max((int(r["turn"]) + 1 for r in trace), default=0))
        version = int(meta["state_version"]) + 1
        _write_state(d, session_id, version, rt.initial, tensors, _fresh_record(*_counters(d)))
        now = registry.now_iso()
        return _write_meta(
            d,
            {
                **meta,
                "n_turns": n_turns,
                "state_version": version,
                "updated_at": now,
                "resets": [*meta.get("resets", []), {"turn": n_turns, "created_at": now}],
            },
        )


def delete_session(store: ArtifactStore, session_id: str) -> None:
    """Remove the session's folder (under its lock; moved aside first, so no reader ever
    sees half a folder)."""
    validate_id(session_id, what="text session id")
    with store.lock(KIND, session_id, timeout=LOCK_TIMEOUT_S):
        d = _dir(store, session_id)
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
        d = _dir(store, session_id)
        meta = _read_meta(d, session_id)
        cfg = SentryConfig.from_dict({**meta["config"], **dict(overrides)})
        changes: dict[str, Any] = {"config": cfg.to_dict(), "updated_at": registry.now_iso()}
        if cfg.lr != meta["config"]["lr"]:
            state = _read_state(d, meta)
            tensors = dict(state.tensors)
            if "engine.lr" in tensors:
                tensors["engine.lr"] = torch.full_like(tensors["engine.lr"], cfg.lr)
            version = int(meta["state_version"]) + 1
            _write_state(d, session_id, version, state.weights, tensors, state.record)
            changes["state_version"] = version
        return _write_meta(d, {**meta, **changes})


# ---------------------------------------------------------------------------- probes


def continuation_loss(
    store: ArtifactStore, session_id: str, prompt: str, continuation: str
) -> float:
    """Mean loss of ``continuation``'s tokens after ``prompt`` under the session's fast
    weights (fresh recurrent state; nothing is written)."""
    check_prompt(prompt)
    if not isinstance(continuation, str) or not continuation:
        raise ValueError("continuation is empty")
    with _loaded(store, session_id) as mon:
        return mon.continuation_loss(prompt, continuation)


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
    """Continue ``prompt`` under the session's fast weights without a write or a trace
    record (greedy by default)."""
    text = check_prompt(prompt)
    gen = GenerationConfig(max_tokens=max_tokens, temperature=temperature, top_k=top_k)
    _check_seed(seed)
    with _loaded(store, session_id) as mon:
        _prefill(mon, text)
        return _generate(mon, gen, seed, None)[1]


@contextlib.contextmanager
def _loaded(store: ArtifactStore, session_id: str) -> Iterator[SentryMonitor]:
    """The session's monitor with its state loaded (session and model locks held)."""
    validate_id(session_id, what="text session id")
    with store.lock(KIND, session_id, timeout=LOCK_TIMEOUT_S):
        d = _dir(store, session_id)
        meta = _read_meta(d, session_id)
        cfg = SentryConfig.from_dict(meta["config"])
        rt = _checked_runtime(store, meta)
        state = _read_state(d, meta)
        with rt.lock:
            mon = rt.monitor(cfg, store)
            _load_into(mon, state, d)
            yield mon


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
        d = _dir(store, session_id)
        meta = _read_meta(d, session_id)
        trace = read_jsonl(d / TRACE_FILE) if (d / TRACE_FILE).exists() else []
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
            lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in trace)
            atomic_write_text(d / TRACE_FILE, lines)
        return stored


__all__ = [
    "CHAT_DEFAULTS",
    "FLAGGED_FILE",
    "KIND",
    "SAFETY_SUPPORT",
    "GenerationConfig",
    "ModelMismatchError",
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
    "read_events",
    "read_flagged",
    "read_session",
    "read_trace",
    "reset_session",
    "send_message",
    "set_safety",
    "turn_seed",
]
