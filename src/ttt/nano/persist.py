"""How a Nano session lives on disk: resume points, weight history, run logs, recovery.

A session folder (docs/nano_files.md) changes only through these steps, each one crash-safe:

* **create / fork**: the new session is built in a hidden temp folder next to its final
  place and renamed into place at the end (``publish_dir``); a kill or a failure leaves no
  half-made session (``list`` never sees one, a retry with the same id works).
* **checkpoint** (during a run, every few seconds and at the end): the run's new per-step
  rows, events and trajectory go to a new part file (``runs/<id>/parts/``), the committed
  weights to content-addressed blobs, then one ``FolderJournal`` transaction replaces the
  resume point (``plastic_state``, ``optim_state``, ``state.safetensors``, ``state.json``),
  ``metrics.json`` and the run's ``run.json`` (its committed ``t_end`` and part count) and
  appends the new lines of ``weights/history.jsonl`` — all or nothing.
* **finish**: the run's seed files (``per_step.csv``, ``update_events.json``, trajectory,
  ``summary.json``) are built from its committed parts, then ``run.json`` gets its final
  status.

A writer announces itself in ``.writer`` (pid, run id) for as long as it works. Whoever
opens the session next with its lock (``recover_session``: every writer, and readers through
``settle`` when the lock is free) rolls a committed journal forward or an uncommitted one
back, finishes every run whose writer died from its committed parts (status
``interrupted``, or the status it was finishing with), and removes the marker. So a kill at
any instant loses at most the work since the last checkpoint, and ``show``, ``list``, the
weight history and ``fork`` always agree with the resume point.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ttt.nano.journal import FolderJournal, has_pending, recover
from ttt.nano.model import plastic_names
from ttt.nano.runner import ChunkOutput, RunnerState, canary_in_force
from ttt.procs import pid_alive
from ttt.store import (
    AlreadyExistsError,
    ArtifactStore,
    LockTimeoutError,
    StoreError,
    atomic_write_text,
    read_json,
    read_jsonl,
    read_tensors,
    validate_id,
    write_csv,
    write_json,
    write_json_list,
    write_tensors,
)
from ttt.store.io import fsync_dir

KIND = "sessions"
WRITER = ".writer"
HISTORY = "weights/history.jsonl"
TMP_DIR_PREFIX = ".tmp-new-"
TRAJECTORY_KEYS = ("obs", "actions", "mu", "pred_baseline", "pred_adaptive")
TRAJECTORY_JSON_MAX = 20_000  # steps kept at full resolution in trajectory.json
PER_STEP_COLUMNS = (
    "t",
    "baseline_mse",
    "adaptive_mse",
    "frozen_mse",
    "oracle_mse",
    "did_update",
    "update_ok",
    "status",
    "mu",
)
FINAL_STATUSES = ("completed", "cancelled", "failed", "interrupted")


# ---------------------------------------------------------------------------- resume points

STATE_FILES = (
    "plastic_state.safetensors",
    "optim_state.safetensors",
    "state.safetensors",
    "state.json",
)


def _state_payload(st: RunnerState) -> dict[str, Any]:
    return {
        "plastic_state.safetensors": st.plastic,
        "optim_state.safetensors": {**st.optim, **st.engine},
        "state.safetensors": st.tensors,
        "state.json": {"t": st.t, "commits": st.commits, **st.info},
    }


def write_state(d: Path, st: RunnerState, prefix: str = "") -> None:
    """Write a resume point directly (a folder nobody else sees yet: a new session or the
    start point of a new run). ``state.json`` is written last."""
    for name, obj in _state_payload(st).items():
        if name.endswith(".json"):
            write_json(d / f"{prefix}{name}", obj)
        else:
            write_tensors(d / f"{prefix}{name}", obj)


def stage_state(j: FolderJournal, st: RunnerState) -> None:
    """Stage the session's resume point in a journal transaction."""
    for name, obj in _state_payload(st).items():
        if name.endswith(".json"):
            j.stage_json(name, obj)
        else:
            j.stage_tensors(name, obj)


def load_state(d: Path, prefix: str = "") -> RunnerState:
    info = read_json(d / f"{prefix}state.json")
    plastic = read_tensors(d / f"{prefix}plastic_state.safetensors")
    opt_all = read_tensors(d / f"{prefix}optim_state.safetensors", check_finite=False)
    tensors = read_tensors(d / f"{prefix}state.safetensors", check_finite=False)
    engine = {k: v for k, v in opt_all.items() if k.startswith("engine.")}
    optim = {k: v for k, v in opt_all.items() if not k.startswith("engine.")}
    t = int(info.pop("t"))
    commits = int(info.pop("commits"))
    info.pop("schema_version", None)
    return RunnerState(
        t=t,
        commits=commits,
        plastic=plastic,
        optim=optim,
        engine=engine,
        tensors=tensors,
        info=info,
    )


def committed_point(d: Path) -> tuple[int, int]:
    """(t, commits) of the session's resume point: what every reader must agree with."""
    info = read_json(d / "state.json")
    return int(info["t"]), int(info["commits"])


# ---------------------------------------------------------------------------- weight history


def history_segment(
    store: ArtifactStore, records: Sequence[tuple[dict[str, Any], dict[str, Tensor]]]
) -> list[dict[str, Any]]:
    """Store committed weights as one content-addressed segment (stacked tensors) and return
    the history lines that point into it (``segment`` refs, ``row``)."""
    if not records:
        return []
    stacked = {n: torch.stack([w[n] for _, w in records]) for n in plastic_names}
    seg = store.put_tensor_dict(stacked)
    return [{**info, "segment": seg, "row": row} for row, (info, _) in enumerate(records)]


def _append_lines(p: Path, lines: list[str]) -> None:
    """Append complete lines with one write + fsync (a torn last line is closed first, the way
    ``ttt.store.append_jsonl`` does, so readers skip it)."""
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n\n" + data
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if size == 0:
        fsync_dir(p.parent)


def apply_history(d: Path, extra: Mapping[str, Any]) -> None:
    """Journal hook: make ``weights/history.jsonl`` hold exactly the records k <= commits,
    appending the transaction's new ones once (idempotent, so a replay is harmless)."""
    commits = extra.get("commits")
    new = list(extra.get("history") or [])
    if commits is None:
        return
    p = d / HISTORY
    recs = read_jsonl(p) if p.exists() else []
    keep = [r for r in recs if int(r["k"]) <= int(commits)]
    if len(keep) != len(recs):
        atomic_write_text(p, "".join(json.dumps(r) + "\n" for r in keep))
    last = keep[-1]["k"] if keep else -1
    add = [r for r in new if int(r["k"]) > last and int(r["k"]) <= int(commits)]
    if add:
        _append_lines(p, [json.dumps(r, allow_nan=False) for r in add])


def read_history(d: Path) -> list[dict[str, Any]]:
    """The committed weight history: one record per committed update k = 0..commits.

    The single source of truth for "which updates exist": listings, ``weights_at`` and
    ``fork --from-update`` all read it, and it is cut at the resume point's commit count."""
    p = d / HISTORY
    recs = read_jsonl(p) if p.exists() else []
    _, commits = committed_point(d)
    return [r for r in recs if int(r["k"]) <= commits]


# ---------------------------------------------------------------------------- run logs


def _mean(xs: Sequence[float] | deque[float]) -> float | None:
    return float(sum(xs) / len(xs)) if xs else None


@dataclass
class RunStats:
    """A run's metrics (the seed ``metrics.json`` keys), accumulated row by row.

    ``summary()`` after ``add(rows, events)`` in any number of calls equals the summary of
    all rows at once: sums run in row order, the last-100 windows keep the last 100 rows."""

    n: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    last: dict[str, deque[float]] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    attempted: int = 0
    canary_first: float | None = None
    canary_last: float | None = None
    canary_seen: bool = False
    spfw_projected: int = 0
    spfw_removed: list[float] = field(default_factory=list)
    spfw_seen: bool = False

    def add(self, rows: Sequence[Sequence[Any]], events: Sequence[Mapping[str, Any]]) -> None:
        col = {c: i for i, c in enumerate(PER_STEP_COLUMNS)}
        for name in ("baseline_mse", "adaptive_mse", "frozen_mse", "oracle_mse"):
            i = col[name]
            s = self.sums.get(name, 0)
            window = self.last.setdefault(name, deque(maxlen=100))
            for r in rows:
                v = float(r[i])
                s += v
                window.append(v)
            self.sums[name] = s
        self.n += len(rows)
        for e in events:
            self.attempted += 1
            self.by_status[e["status"]] = self.by_status.get(e["status"], 0) + 1
            if e.get("canary_before") is not None:
                if not self.canary_seen:
                    self.canary_first = e["canary_before"]
                self.canary_seen = True
                self.canary_last = canary_in_force(e)
            p = e.get("projection")
            if p:
                self.spfw_seen = True
                self.spfw_projected += int(p.get("violations_before", 0) > 0)
                if p.get("fraction_removed") is not None:
                    self.spfw_removed.append(p["fraction_removed"])

    def summary(self) -> dict[str, Any]:
        def mean(name: str) -> float | None:
            return float(self.sums[name] / self.n) if self.n else None

        b100 = _mean(self.last.get("baseline_mse", deque()))
        a100 = _mean(self.last.get("adaptive_mse", deque()))
        f100 = _mean(self.last.get("frozen_mse", deque()))
        # Against the session's own starting weights (frozen_mse): for a new session they are
        # the base (frozen == baseline), for a fork the fork point, not the parent's base.
        ref = f100 if f100 is not None else b100
        committed = self.by_status.get("commit", 0)
        out: dict[str, Any] = {
            "baseline_mse_mean": mean("baseline_mse"),
            "adaptive_mse_mean": mean("adaptive_mse"),
            "baseline_mse_last100_mean": b100,
            "adaptive_mse_last100_mean": a100,
            "frozen_mse_last100_mean": f100,
            "oracle_mse_last100_mean": _mean(self.last.get("oracle_mse", deque())),
            "improvement_last100": (1.0 - a100 / ref) if (a100 is not None and ref) else None,
            "updates_attempted": self.attempted,
            "updates_committed": committed,
            "updates_rolled_back": self.attempted - committed,
            "rollbacks_by_status": {k: v for k, v in self.by_status.items() if k != "commit"},
            "commit_rate": committed / self.attempted if self.attempted else None,
            "steps": self.n,
        }
        if self.canary_seen:
            out["canary_loss_first"] = self.canary_first
            out["canary_loss_last"] = self.canary_last
        if self.spfw_seen:
            out["spfw_projected"] = self.spfw_projected
            out["spfw_fraction_removed_mean"] = _mean(self.spfw_removed)
        return out


def summarize(rows: Sequence[Sequence[Any]], events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Metrics of a run from its per-step rows and events (the seed metrics.json keys)."""
    stats = RunStats()
    stats.add(rows, events)
    return stats.summary()


def empty_metrics() -> dict[str, Any]:
    return {
        "baseline_mse_mean": None,
        "adaptive_mse_mean": None,
        "baseline_mse_last100_mean": None,
        "adaptive_mse_last100_mean": None,
        "frozen_mse_last100_mean": None,
        "oracle_mse_last100_mean": None,
        "improvement_last100": None,
        "updates_attempted": 0,
        "updates_committed": 0,
        "updates_rolled_back": 0,
        "rollbacks_by_status": {},
        "commit_rate": None,
        "steps_total": 0,
        "runs": 0,
        "last_run_id": None,
    }


def metrics_with_run(old: Mapping[str, Any], run_id: str, summary: Mapping[str, Any]) -> dict:
    """Session metrics after a run: ``old`` (all earlier runs) plus this run's summary.

    Counts add up over runs; the MSE means and last-100 values are those of the last run
    that made any step (a run stopped before its first step keeps the previous ones)."""
    if int(summary["steps"]) > 0 or not old:
        new: dict[str, Any] = {k: v for k, v in summary.items() if k != "steps"}
    else:
        new = {k: v for k, v in old.items() if k != "schema_version"}
    for k in ("updates_attempted", "updates_committed", "updates_rolled_back"):
        new[k] = int(old.get(k, 0)) + int(summary[k])
    merged: dict[str, int] = dict(old.get("rollbacks_by_status", {}))
    for k, v in summary["rollbacks_by_status"].items():
        merged[k] = merged.get(k, 0) + v
    new["rollbacks_by_status"] = merged
    attempted = new["updates_attempted"]
    new["commit_rate"] = new["updates_committed"] / attempted if attempted else None
    new["steps_total"] = int(old.get("steps_total", 0)) + int(summary["steps"])
    new["runs"] = int(old.get("runs", 0)) + 1
    new["last_run_id"] = run_id
    new["last_run"] = dict(summary)
    return new


class RunRecorder:
    """A run's log: live.jsonl per chunk (for streaming) and part files per checkpoint."""

    def __init__(self, rd: Path, first_part: int = 0) -> None:
        self.rd = rd
        self.parts_dir = rd / "parts"
        self.n_parts = first_part
        self.stats = RunStats()
        self._rows: list[list[Any]] = []
        self._events: list[dict[str, Any]] = []
        self._traj: dict[str, list[Tensor]] = {k: [] for k in TRAJECTORY_KEYS}
        self._live = open(rd / "live.jsonl", "a", encoding="utf-8")  # noqa: SIM115

    def add(self, chunk: ChunkOutput) -> None:
        self._rows.extend(chunk.rows)
        self._events.extend(chunk.events)
        for k in self._traj:
            self._traj[k].append(getattr(chunk, k))
        self.stats.add(chunk.rows, chunk.events)
        self._live.write(
            json.dumps(
                {"t_end": chunk.t[-1], "rows": chunk.rows, "events": chunk.events}, allow_nan=False
            )
            + "\n"
        )
        self._live.flush()

    def live_bytes(self) -> int:
        return self._live.tell()

    def flush_part(self) -> None:
        """Write the rows since the last part as part ``n_parts`` (nothing when empty)."""
        if not self._rows:
            return
        name = f"{self.n_parts:06d}"
        traj = {k: torch.cat(v) for k, v in self._traj.items()}
        write_tensors(self.parts_dir / f"{name}.safetensors", traj)
        write_json(self.parts_dir / f"{name}.json", {"rows": self._rows, "events": self._events})
        self.n_parts += 1
        self._rows, self._events = [], []
        self._traj = {k: [] for k in TRAJECTORY_KEYS}

    def close(self) -> None:
        self._live.close()


def _read_parts(rd: Path, n: int) -> Iterator[tuple[dict[str, Any], dict[str, Tensor]]]:
    for i in range(n):
        name = f"{i:06d}"
        part = read_json(rd / "parts" / f"{name}.json")
        traj = read_tensors(rd / "parts" / f"{name}.safetensors", check_finite=False)
        yield part, traj


def _round(x: Any) -> Any:
    """8 significant digits (float32 holds about 7): relative, so a prediction error of 1e-7
    computed from rounded predictions still equals the stored one to 1e-4."""
    if isinstance(x, float):
        return float(f"{x:.8g}")
    if isinstance(x, list):
        return [_round(v) for v in x]
    return x


def finish_run(rd: Path, run: dict[str, Any], status: str) -> dict[str, Any]:
    """Build a run's seed files from its committed parts and give ``run.json`` its final
    ``status``. Idempotent: a kill anywhere in here is finished by the next open."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"unknown final run status {status!r}")
    n = int(run.get("parts", 0))
    columns = list(run.get("per_step_columns") or PER_STEP_COLUMNS)
    rows: list[list[Any]] = []
    events: list[dict[str, Any]] = []
    traj: dict[str, list[Tensor]] = {k: [] for k in TRAJECTORY_KEYS}
    for part, tr in _read_parts(rd, n):
        rows.extend(part["rows"])
        events.extend(part["events"])
        for k in TRAJECTORY_KEYS:
            traj[k].append(tr[k])
    write_csv(rd / "per_step.csv", columns, rows)
    write_json_list(rd / "update_events.json", events)
    if rows:
        cat = {k: torch.cat(v) for k, v in traj.items()}
        write_tensors(rd / "trajectory.safetensors", cat)
        length = cat["obs"].shape[0]
        stride = max(1, -(-length // TRAJECTORY_JSON_MAX))
        write_json(
            rd / "trajectory.json",
            {
                "t0": int(run["t_start"]),
                "stride": stride,
                "n": length,
                **{k: _round(v[::stride].tolist()) for k, v in cat.items()},
            },
        )
    summary = summarize(rows, events)
    write_json(rd / "summary.json", summary)
    live = rd / "live.jsonl"
    if "live_bytes" in run and live.exists() and live.stat().st_size > int(run["live_bytes"]):
        os.truncate(live, int(run["live_bytes"]))  # drop chunks that were never committed
    final = {k: v for k, v in run.items() if k not in ("finishing", "parts", "live_bytes")}
    final["status"] = status
    final.setdefault("finished_at", None)
    write_json(rd / "run.json", final)
    shutil.rmtree(rd / "parts", ignore_errors=True)
    return summary


# ---------------------------------------------------------------------------- writers, recovery


def writer_marker(d: Path, run_id: str | None) -> None:
    write_json(d / WRITER, {"pid": os.getpid(), "run_id": run_id})


def clear_writer(d: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(d / WRITER)


def _own_writer(d: Path) -> bool:
    """True while this very process writes the session (a reader called from its own run,
    e.g. in a progress callback, must not "recover" the live run)."""
    try:
        return int(read_json(d / WRITER).get("pid", -1)) == os.getpid()
    except (StoreError, ValueError, TypeError):
        return False


def needs_recovery(d: Path) -> bool:
    return has_pending(d) or (d / WRITER).exists()


def recover_session(store: ArtifactStore, d: Path) -> list[str]:
    """Settle a session whose last writer died (call with the session's lock held).

    Rolls the journal forward or back, finishes every run still marked ``running`` from its
    committed parts, drops run folders that never got a ``run.json``, cuts history lines past
    the resume point (sessions written before the journal existed), removes the writer
    marker. Returns what it did (empty when nothing was needed)."""
    did: list[str] = []
    how = recover(d, lambda extra: apply_history(d, extra))
    if how:
        did.append(f"journal {how}")
    if (d / WRITER).exists():
        runs = d / "runs"
        if runs.is_dir():
            for child in sorted(runs.iterdir()):
                if not child.is_dir() or child.name.startswith("."):
                    continue
                p = child / "run.json"
                if not p.exists():
                    shutil.rmtree(child)
                    did.append(f"removed unstarted run {child.name}")
                    continue
                run = read_json(p)
                if run.get("status") == "running":
                    status = str(run.get("finishing") or "interrupted")
                    finish_run(child, run, status)
                    did.append(f"run {child.name} finished as {status}")
                elif (child / "parts").exists():  # killed while deleting its parts
                    shutil.rmtree(child / "parts")
                    did.append(f"run {child.name}: leftover parts removed")
        if (d / "state.json").exists():
            _, commits = committed_point(d)
            apply_history(d, {"commits": commits, "history": []})
        clear_writer(d)
        did.append("writer marker removed")
    return did


def settle(store: ArtifactStore, session_id: str, d: Path) -> None:
    """For readers: recover a session whose writer died, if no live writer holds its lock."""
    if not needs_recovery(d) or _own_writer(d):
        return
    try:
        with store.lock(KIND, session_id, timeout=0):
            if needs_recovery(d):
                recover_session(store, d)
    except LockTimeoutError:
        return  # a live writer is at work; it keeps the files consistent itself


# ---------------------------------------------------------------------------- new folders


def new_temp_dir(store: ArtifactStore, kind: str, item_id: str) -> Path:
    """A hidden folder in ``<kind>/`` to build a new item in (``publish_dir`` moves it into
    place). Temp folders of dead processes are removed on the way."""
    parent = store.kind_dir(kind)
    parent.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(parent):
        if entry.name.startswith(TMP_DIR_PREFIX) and entry.is_dir(follow_symlinks=False):
            try:
                pid = int(entry.name.rsplit(".", 2)[-2])
            except (ValueError, IndexError):
                continue
            if not pid_alive(pid):
                shutil.rmtree(entry.path, ignore_errors=True)
    tmp = parent / f"{TMP_DIR_PREFIX}{item_id}.{os.getpid()}.{secrets.token_hex(4)}"
    tmp.mkdir()
    return tmp


def publish_dir(
    store: ArtifactStore, kind: str, item_id: str, tmp: Path, *, label: str = "item"
) -> Path:
    """Move a finished temp folder to ``<kind>/<item_id>`` in one rename (the commit point of
    a new item). ``AlreadyExistsError`` when the id is taken by a real item."""
    final = store.item_dir(kind, validate_id(item_id))
    if final.exists() and any(final.iterdir()):
        shutil.rmtree(tmp, ignore_errors=True)
        raise AlreadyExistsError(f"{label} {item_id!r} already exists: {final}")
    try:
        os.rename(tmp, final)  # replaces only an empty folder
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StoreError(f"{final}: cannot create ({e})") from e
    fsync_dir(final.parent)
    return final
