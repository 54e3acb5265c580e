"""A chat session's files, written so that a kill at any instant leaves the previous or the
next state (never a session that needs a reset).

``text_sessions/<session_id>/``::

    session.json                 the manifest: ids, model, config, n_turns, state_version, ...
    state/v000007/               the fast-weight state of state_version 7:
        context_state.safetensors    fast weights (TinyLm context net, or LoRA A/B)
        optim_state.safetensors      optim.<param>.<key> (momentum...) and engine.* tensors
        monitor_state.json           the monitor's committed histories and counters
    trace.jsonl                  one record per turn (prompt, completion, gate, updates...)
    events.jsonl                 the Sentry event of every prompt chunk, with ``turn``

**The commit point is ``session.json``.** A write makes a complete new state folder first
(built under a temporary name, fsynced, renamed into place), then appends the turn's events
and trace record, and only then replaces ``session.json`` (atomically) with the new
``state_version`` and ``n_turns``. A reader trusts only what the manifest names: records with
``turn >= n_turns`` and state folders other than the manifest's are leftovers of a killed
writer, invisible to every reader and removed by the next writer (``recover``). So the
trace, the events and the weights always agree on the turn count.

Sessions written before this layout kept the three state files next to ``session.json``
(``state_dir`` absent from the manifest); they are read in place and move to ``state/`` on
their next write.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ttt.engine import BLOCKED_GATE
from ttt.models.registry import now_iso
from ttt.store import (
    SCHEMA_VERSION,
    TMP_PREFIX,
    ArtifactStore,
    CorruptFileError,
    NotFoundError,
    StoreError,
    atomic_write_text,
    read_json,
    read_jsonl,
    read_tensor_metadata,
    read_tensors,
    write_json,
    write_tensors,
)
from ttt.store.io import fsync_dir

KIND = "text_sessions"
SESSION_FILE = "session.json"
STATE_DIR = "state"
CONTEXT_FILE = "context_state.safetensors"
OPTIM_FILE = "optim_state.safetensors"
MONITOR_FILE = "monitor_state.json"
TRACE_FILE = "trace.jsonl"
EVENTS_FILE = "events.jsonl"
STATE_FORMAT = "ttt-chat-state-v1"


@dataclass
class State:
    """A session's write state: fast weights, optimiser/engine tensors, monitor record."""

    weights: dict[str, Tensor]
    tensors: dict[str, Tensor]
    record: dict[str, Any]


def session_dir(store: ArtifactStore, session_id: str) -> Path:
    return store.item_dir(KIND, session_id, must_exist=True)


def read_manifest(d: Path, session_id: str) -> dict[str, Any]:
    path = d / SESSION_FILE
    if not path.exists():
        raise NotFoundError(
            f"text session {session_id!r} has no {SESSION_FILE} (still being created, or "
            f"broken: {path})"
        )
    return read_json(path)


def write_manifest(d: Path, meta: Mapping[str, Any]) -> dict[str, Any]:
    """Replace ``session.json`` atomically: the commit point of every session write."""
    doc = {**meta, "schema_version": SCHEMA_VERSION}
    write_json(d / SESSION_FILE, doc)
    return doc


def state_name(version: int) -> str:
    return f"v{version:06d}"


def _state_path(d: Path, meta: Mapping[str, Any]) -> Path:
    name = meta.get("state_dir")
    if name is None:  # the layout before state/ folders: files next to session.json
        return d
    if not isinstance(name, str) or name != state_name(int(meta["state_version"])):
        raise CorruptFileError(f"{d / SESSION_FILE}: state_dir {name!r} does not match its version")
    return d / STATE_DIR / name


def write_state(d: Path, session_id: str, version: int, state: State) -> str:
    """Write state ``version`` as a complete folder (temporary name, then rename); returns the
    ``state_dir`` name to record in the manifest. An existing folder of that version (left by
    a killed writer, never named by the manifest) is replaced."""
    root = d / STATE_DIR
    root.mkdir(exist_ok=True)
    tag = {"format": STATE_FORMAT, "session_id": session_id, "state_version": str(version)}
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=root))
    try:
        write_tensors(tmp / CONTEXT_FILE, state.weights, metadata=tag)
        write_tensors(tmp / OPTIM_FILE, state.tensors, metadata=tag)
        write_json(
            tmp / MONITOR_FILE,
            {**state.record, "session_id": session_id, "state_version": version},
        )
        fsync_dir(tmp)
        final = root / state_name(version)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return state_name(version)


def read_state(d: Path, meta: Mapping[str, Any]) -> State:
    """The state the manifest names, checked to be of the manifest's version."""
    sid, want = meta["session_id"], int(meta["state_version"])
    p = _state_path(d, meta)
    versions: dict[str, Any] = {}
    for name in (CONTEXT_FILE, OPTIM_FILE):
        versions[name] = read_tensor_metadata(p / name).get("state_version")
    record = read_json(p / MONITOR_FILE)
    versions[MONITOR_FILE] = record.get("state_version")
    if any(str(v) != str(want) for v in versions.values()):
        found = ", ".join(f"{k}: {v}" for k, v in versions.items())
        raise CorruptFileError(
            f"text session {sid!r} ({p}): {SESSION_FILE} names state_version {want} but the "
            f"state files hold {found}"
        )
    for key in ("grad_hist", "update_hist", "n_chunks", "n_tokens"):
        if key not in record:
            raise CorruptFileError(f"{p / MONITOR_FILE}: missing field {key!r}")
    tensors = read_tensors(p / OPTIM_FILE, check_finite=False)  # empty history slots are NaN
    for name, t in tensors.items():
        if not name.startswith("engine.history") and not bool(torch.isfinite(t).all()):
            raise CorruptFileError(f"{p / OPTIM_FILE}: tensor {name!r} has non-finite values")
    return State(read_tensors(p / CONTEXT_FILE), tensors, record)


def committed_records(d: Path, name: str, n_turns: int) -> list[dict[str, Any]]:
    """Records of ``trace.jsonl`` / ``events.jsonl`` that belong to committed turns."""
    p = d / name
    if not p.exists():
        return []
    return [r for r in read_jsonl(p) if int(r.get("turn", -1)) < n_turns]


def recover(d: Path, meta: Mapping[str, Any]) -> None:
    """Remove what a killed writer left (called by writers under the session lock): trace and
    event records of uncommitted turns, and state folders the manifest does not name."""
    n = int(meta["n_turns"])
    for name in (TRACE_FILE, EVENTS_FILE):
        p = d / name
        if not p.exists():
            continue
        rows = read_jsonl(p)
        kept = [r for r in rows if int(r.get("turn", -1)) < n]
        if len(kept) != len(rows) or _torn_tail(p):
            atomic_write_text(p, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
    root = d / STATE_DIR
    keep = meta.get("state_dir")
    if root.is_dir():
        for entry in root.iterdir():
            if entry.name != keep:
                shutil.rmtree(entry, ignore_errors=True)
    if keep is not None:  # a session moved to state/: the old top-level files are stale
        for name in (CONTEXT_FILE, OPTIM_FILE, MONITOR_FILE):
            with contextlib.suppress(FileNotFoundError):
                (d / name).unlink()


def _torn_tail(p: Path) -> bool:
    """True when the file does not end with a newline (a killed append left half a line)."""
    size = p.stat().st_size
    if size == 0:
        return False
    with open(p, "rb") as f:
        f.seek(size - 1)
        return f.read(1) != b"\n"


def rewrite_records(d: Path, name: str, rows: list[dict[str, Any]]) -> None:
    atomic_write_text(d / name, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


# ---------------------------------------------------------------------------- readers


def read_session(store: ArtifactStore, session_id: str) -> dict[str, Any]:
    """``session.json`` of a session (``NotFoundError`` naming an unknown id)."""
    return read_manifest(session_dir(store, session_id), session_id)


def read_trace(store: ArtifactStore, session_id: str) -> list[dict[str, Any]]:
    """The session's committed turn records, oldest first."""
    d = session_dir(store, session_id)
    meta = read_manifest(d, session_id)
    return committed_records(d, TRACE_FILE, int(meta["n_turns"]))


def read_events(
    store: ArtifactStore, session_id: str, turn: int | None = None
) -> list[dict[str, Any]]:
    """The session's chunk events of committed turns (every turn, or one), oldest first."""
    d = session_dir(store, session_id)
    meta = read_manifest(d, session_id)
    events = committed_records(d, EVENTS_FILE, int(meta["n_turns"]))
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


# ---------------------------------------------------------------------------- records


def fresh_record(n_chunks: int = 0, n_tokens: int = 0) -> dict[str, Any]:
    return {"grad_hist": [], "update_hist": [], "n_chunks": n_chunks, "n_tokens": n_tokens}


def trace_record(
    meta: Mapping[str, Any],
    cfg: Any,
    turn: int,
    text: str,
    completion: str,
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "turn": turn,
        "created_at": now_iso(),
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
        "model_id": meta["model_id"],
        "flagged": False,
        "prompt_tokens": sum(e["token_end"] - e["token_start"] for e in events),
        "safety": cfg.safety,
    }


def new_session_folder(store: ArtifactStore, sid: str, build: Callable[[Path], Any]) -> Any:
    """Build a session in a temporary folder and rename it into place whole (the caller holds
    the id's lock): a failed or killed create leaves nothing under the session's id."""
    return store.build_item(KIND, sid, build)
