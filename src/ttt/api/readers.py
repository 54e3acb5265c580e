"""Read-side helpers over the Nano files (docs/nano_files.md) for the routes.

Everything here only reads; ids are validated by the store before any path is built, and
nothing outside the session's folder is listed. Parsed files are cached by (path, mtime,
size) in a ``FileCache``.
"""

from __future__ import annotations

import math
import os
import shlex
from pathlib import Path
from typing import Any

import numpy as np

from ttt.api.cache import FileCache
from ttt.nano import session as nano_session
from ttt.procs import pid_alive
from ttt.store import (
    ArtifactStore,
    NotFoundError,
    StoreError,
    read_json,
    read_json_list,
    read_tensors,
    validate_id,
)

SESSIONS = "sessions"
TRAJECTORY_KEYS = ("obs", "actions", "mu", "pred_baseline", "pred_adaptive")
DEFAULT_RESUME_STEPS = 600


def session_dir(store: ArtifactStore, session_id: str) -> Path:
    sid = validate_id(session_id, what="session id")
    d = store.item_dir(SESSIONS, sid)
    if not (d / "meta.json").is_file():
        raise NotFoundError(f"session {sid!r} not found")
    return d


def run_dir(store: ArtifactStore, session_id: str, run_id: str) -> Path:
    session_dir(store, session_id)
    d = store.resolve(SESSIONS, session_id, "runs", validate_id(run_id, what="run id"))
    if not (d / "run.json").is_file():
        raise NotFoundError(f"run {run_id!r} not found in session {session_id!r}")
    return d


def run_file(store: ArtifactStore, session_id: str, run_id: str, name: str) -> Path:
    run_dir(store, session_id, run_id)
    p = store.resolve(SESSIONS, session_id, "runs", run_id, name)
    if not p.is_file():
        raise NotFoundError(f"run {run_id!r} of session {session_id!r} has no {name} (yet)")
    return p


def effective_status(run: dict[str, Any]) -> str:
    """``running`` only while the writing process lives; a dead writer is ``interrupted``."""
    status = str(run.get("status", "unknown"))
    if status == "running" and "pid" in run and not pid_alive(run["pid"]):
        return "interrupted"
    return status


def runs_of(cache: FileCache, store: ArtifactStore, session_id: str) -> list[dict[str, Any]]:
    """run.json of every run, oldest first, with the effective status."""
    d = session_dir(store, session_id) / "runs"
    runs = []
    if d.is_dir():
        for child in d.iterdir():
            p = child / "run.json"
            if child.name.startswith(".") or not p.is_file():
                continue
            run = dict(cache.get("run.json", p, read_json))
            run.setdefault("run_id", child.name)
            run["status"] = effective_status(run)
            runs.append(run)
    runs.sort(key=lambda r: (r.get("t_start") or 0, r.get("started_at") or "", r["run_id"]))
    return runs


def running_run(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    live = [r for r in runs if r["status"] == "running"]
    return live[-1] if live else None


def resume_command(store: ArtifactStore, session_id: str, runs: list[dict[str, Any]]) -> str:
    steps = next((int(r["steps"]) for r in reversed(runs) if r.get("steps")), None)
    root = shlex.quote(str(Path(store.root).resolve()))
    steps = steps or DEFAULT_RESUME_STEPS
    return f"ttt nano session run {session_id} --steps {steps} --artifacts-root {root}"


def list_summaries(
    cache: FileCache, store: ArtifactStore
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    items, errors = nano_session.list_sessions(store)
    for s in items:
        try:
            s["running"] = running_run(runs_of(cache, store, s["session_id"])) is not None
        except StoreError:
            s["running"] = False
    return items, errors


SORT_KEYS = (
    "created_at",
    "session_id",
    "mu",
    "env_mode",
    "steps_total",
    "updates_attempted",
    "updates_committed",
    "baseline_mse_last100_mean",
    "adaptive_mse_last100_mean",
    "improvement_last100",
)


def sort_values(keys: tuple[str, ...]) -> list[str]:
    """The values a ``sort`` query parameter accepts: ``field`` or ``-field`` (descending)."""
    return [*keys, *(f"-{k}" for k in keys)]


def sort_items(items: list[dict[str, Any]], sort: str, keys: tuple[str, ...]) -> None:
    """Sort in place by ``field`` or ``-field``; missing values last either way."""
    desc = sort.startswith("-")
    name = sort[1:] if desc else sort
    if name not in keys:
        raise ValueError(f"cannot sort by {name!r} (allowed: {', '.join(keys)}, '-' for desc)")
    if name == "created_at":
        name = "created_at_unix" if any("created_at_unix" in i for i in items) else name
    present = [i for i in items if i.get(name) is not None]
    absent = [i for i in items if i.get(name) is None]
    present.sort(key=lambda i: (i[name], i.get("session_id", "")), reverse=desc)
    items[:] = present + absent


# -- events ------------------------------------------------------------------------------


def load_events(cache: FileCache, path: Path) -> list[dict[str, Any]]:
    return cache.get("events", path, read_json_list)


def event_counts(events: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in events:
        s = str(e.get("status"))
        counts[s] = counts.get(s, 0) + 1
    return counts


EVENT_SORT_KEYS = (
    "t",
    "index",
    "status",
    "grad_norm",
    "grad_norm_z",
    "pre_loss",
    "post_loss",
    "train_loss",
    "pre_max_h",
    "post_max_h",
    "lr",
    "update_norm",
    "duration_ms",
    "delta_loss",
)


def _event_key(e: dict[str, Any], name: str) -> Any:
    if name == "delta_loss":
        pre, post = e.get("pre_loss"), e.get("post_loss")
        return None if pre is None or post is None else post - pre
    v = e.get(name)
    return None if isinstance(v, float) and not math.isfinite(v) else v


def sort_events(events: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    desc = sort.startswith("-")
    name = sort[1:] if desc else sort
    if name not in EVENT_SORT_KEYS:
        raise ValueError(
            f"cannot sort events by {name!r} (allowed: {', '.join(EVENT_SORT_KEYS)}, '-' for desc)"
        )
    keyed = [(_event_key(e, name), e) for e in events]
    present = [p for p in keyed if p[0] is not None]
    absent = [e for k, e in keyed if k is None]
    present.sort(key=lambda p: (p[0], p[1].get("t", 0)), reverse=desc)
    return [e for _, e in present] + absent


# -- trajectory ----------------------------------------------------------------------------


def load_trajectory(
    small: FileCache, big: FileCache, rd: Path
) -> tuple[int, int, dict[str, np.ndarray]]:
    """(t0, stride of the stored arrays, arrays): the full-resolution safetensors when
    present (t0 from run.json), else the (possibly strided) trajectory.json."""
    st = rd / "trajectory.safetensors"
    if st.is_file():
        run = small.get("run.json", rd / "run.json", read_json)
        tensors = big.get("trajectory.st", st, lambda p: read_tensors(p, check_finite=False))
        arrays = {k: tensors[k].numpy() for k in TRAJECTORY_KEYS if k in tensors}
        return int(run.get("t_start") or 0), 1, arrays
    meta = big.get("trajectory.json", rd / "trajectory.json", read_json)
    arrays = {k: np.asarray(meta[k], dtype=np.float64) for k in TRAJECTORY_KEYS if k in meta}
    return int(meta.get("t0") or 0), int(meta.get("stride") or 1), arrays


# -- files and lineage ---------------------------------------------------------------------


def list_files(d: Path) -> list[dict[str, Any]]:
    """Regular files under ``d`` (symlinks neither followed nor listed), sorted by path."""
    out = []
    for dirpath, dirnames, filenames in os.walk(d, followlinks=False):
        dirnames[:] = sorted(n for n in dirnames if not Path(dirpath, n).is_symlink())
        for name in sorted(filenames):
            p = Path(dirpath, name)
            if p.is_symlink() or not p.is_file():
                continue
            out.append({"path": p.relative_to(d).as_posix(), "size": p.stat().st_size})
    return out


def lineage(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    ids = {s["session_id"] for s in items}
    children: dict[str, list[str]] = {}
    nodes = []
    roots = []
    for s in items:
        parent = s.get("parent")
        pid = parent.get("session_id") if isinstance(parent, dict) else None
        if isinstance(pid, str) and pid in ids:
            children.setdefault(pid, []).append(s["session_id"])
        else:
            roots.append(s["session_id"])
    for s in items:
        nodes.append(
            {
                "session_id": s["session_id"],
                "parent": s.get("parent"),
                "created_at": s.get("created_at"),
                "mu": s.get("mu"),
                "env_mode": s.get("env_mode"),
                "children": children.get(s["session_id"], []),
            }
        )
    return nodes, roots
