"""Long work (pretrain a base, create/run/fork a session, sweeps, train a text model, a
Sentry run, a red-team attack, a sleep) as cancellable jobs.

A job is a folder ``jobs/<job_id>/`` in the artifact store:

    job.json        kind, params, status, result, error, timestamps, pid (atomic writes)
    progress.json   {done, total} (atomic, written a few times a second at most)
    log.jsonl       what happened, one JSON record a line
    output.log      the worker's stdout/stderr
    cancel          present once a cancel was requested (the flag the work polls)

The work of each kind, and the spool that carries input too private for job.json (the text
of a Sentry run), are in ``ttt.job_kinds``; a job's spooled input is deleted in any case when
the job ends.

Each job runs in its own worker process (multiprocessing *spawn* context: no state shared
with the server, never on its event loop). The work receives ``progress(done, total)`` and
``cancel() -> bool``; a cancelled job that does not stop within the grace period is
terminated. A job whose worker died without reporting (killed, out of memory, the machine
restarted, the server that queued it stopped) is ``interrupted``, with the reason: it is
found on every read and listing, by the worker's pid *and* that process's start time (so a
recycled pid does not keep a dead job "running").

    manager = JobManager(store_root)
    job_id = manager.submit("run_session", {"session_id": "s1", "steps": 500})
    manager.get(job_id)["status"]      # queued | running | completed | failed | cancelled
                                       # | interrupted
    manager.cancel(job_id)

``read_job``, ``list_jobs`` and ``request_cancel`` work on the files alone (for the CLI).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from ttt.job_kinds import (
    JOB_KINDS,
    SPOOL_DIR,
    Cancel,
    JobFn,
    Progress,
    spool_path,
    spool_text,
    take_spooled_text,
)
from ttt.procs import pid_alive, process_start
from ttt.store import (
    AlreadyExistsError,
    ArtifactStore,
    NotFoundError,
    StoreError,
    append_jsonl,
    new_id,
    read_json,
    validate_id,
    write_json,
)

__all__ = [
    "ACTIVE",
    "JOB_KINDS",
    "SPOOL_DIR",
    "TERMINAL",
    "Cancel",
    "JobFn",
    "JobManager",
    "Progress",
    "list_jobs",
    "read_job",
    "request_cancel",
    "run_job",
    "spool_path",
    "spool_text",
    "take_spooled_text",
]

KIND = "jobs"
QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED, INTERRUPTED = (
    "queued",
    "running",
    "completed",
    "failed",
    "cancelled",
    "interrupted",
)
ACTIVE = frozenset({QUEUED, RUNNING})
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED, INTERRUPTED})
PROGRESS_MIN_INTERVAL_S = 0.25
CANCEL_POLL_INTERVAL_S = 0.1


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _drop_spool(d: Path, job: Mapping[str, Any]) -> None:
    """Delete a job's spooled input, if any is left (the job has ended)."""
    spool = (job.get("params") or {}).get("spool")
    if not (isinstance(spool, list) and len(spool) == 2):
        return
    with contextlib.suppress(StoreError, OSError, ValueError):
        spool_path(ArtifactStore(d.parent.parent), str(spool[0]), str(spool[1])).unlink(
            missing_ok=True
        )


# -- files ----------------------------------------------------------------------------------


def job_dir(store: ArtifactStore, job_id: str) -> Path:
    return store.item_dir(KIND, validate_id(job_id, what="job id"))


def _cancel_flag(d: Path) -> Path:
    return d / "cancel"


def _log(d: Path, event: str, **fields: Any) -> None:
    append_jsonl(d / "log.jsonl", {"time": _now(), "event": event, **fields})


def read_job(store: ArtifactStore, job_id: str) -> dict[str, Any]:
    """job.json merged with its latest progress and whether a cancel was requested."""
    d = job_dir(store, job_id)
    if not (d / "job.json").exists():
        raise NotFoundError(f"job {job_id!r} not found under {store.kind_dir(KIND)}")
    job = read_json(d / "job.json")
    job.pop("schema_version", None)
    pfile = d / "progress.json"
    if job["status"] not in TERMINAL and pfile.exists():
        with contextlib.suppress(StoreError):
            prog = read_json(pfile)
            job["progress"] = {"done": int(prog["done"]), "total": int(prog["total"])}
    job["cancel_requested"] = _cancel_flag(d).exists()
    return job


def _orphan_reason(job: dict[str, Any]) -> str | None:
    if job["status"] == RUNNING and not pid_alive(job.get("pid"), job.get("pid_started")):
        return f"worker process {job.get('pid')} is gone without reporting a result"
    owner = job.get("owner_pid")
    if job["status"] == QUEUED and job.get("pid") is None and owner and not pid_alive(owner):
        return f"the process that queued it ({owner}) stopped before it ran"
    return None


def _mark_dead_if_orphaned(store: ArtifactStore, job: dict[str, Any]) -> dict[str, Any]:
    """An active job whose worker (or, while queued, whose manager) is gone: ``interrupted``."""
    if _orphan_reason(job) is None:
        return job
    fresh = read_job(store, job["job_id"])  # the worker may have finished in between
    reason = _orphan_reason(fresh)
    if reason is None:
        return fresh
    return _finish(job_dir(store, job["job_id"]), fresh, INTERRUPTED, error=reason)


def list_jobs(store: ArtifactStore) -> list[dict[str, Any]]:
    """Every readable job, newest first."""
    out = []
    for jid in store.list_ids(KIND):
        with contextlib.suppress(StoreError):
            out.append(_mark_dead_if_orphaned(store, read_job(store, jid)))
    out.sort(key=lambda j: (j.get("created_at", ""), j["job_id"]), reverse=True)
    return out


def request_cancel(store: ArtifactStore, job_id: str) -> dict[str, Any]:
    """Set the cancel flag (the work sees it through ``cancel()``)."""
    d = job_dir(store, job_id)
    job = read_job(store, job_id)
    if job["status"] in ACTIVE and not _cancel_flag(d).exists():
        _cancel_flag(d).write_text(_now() + "\n", encoding="utf-8")
        _log(d, "cancel_requested")
    return read_job(store, job_id)


def _write_job(d: Path, job: dict[str, Any]) -> None:
    write_json(d / "job.json", {k: v for k, v in job.items() if k != "cancel_requested"})


def _finish(
    d: Path,
    job: dict[str, Any],
    status: str,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    job = dict(job)
    job.update(status=status, result=result, error=error, finished_at=_now())
    _drop_spool(d, job)
    if status == COMPLETED:
        total = max(1, int(job.get("progress", {}).get("total") or 1))
        job["progress"] = {"done": total, "total": total}
    # Log first: whoever sees the final job.json also finds the complete log.
    _log(d, status, **({"error": error} if error else {}))
    _write_job(d, job)
    return job


# -- the worker process ---------------------------------------------------------------------


class _Reporter:
    """progress() and cancel() for the work, both throttled so a per-step call is cheap."""

    def __init__(self, d: Path) -> None:
        self.d = d
        self.flag = _cancel_flag(d)
        self._last_write = 0.0
        self._last_poll = 0.0
        self._cancelled = False
        self.last: tuple[int, int] = (0, 0)

    def progress(self, done: int, total: int) -> None:
        self.last = (int(done), int(total))
        now = time.monotonic()
        if now - self._last_write >= PROGRESS_MIN_INTERVAL_S or done >= total:
            self._last_write = now
            write_json(self.d / "progress.json", {"done": int(done), "total": int(total)})

    def cancel(self) -> bool:
        now = time.monotonic()
        if not self._cancelled and now - self._last_poll >= CANCEL_POLL_INTERVAL_S:
            self._last_poll = now
            self._cancelled = self.flag.exists()
        return self._cancelled


def run_job(root: str | Path, job_id: str) -> dict[str, Any]:
    """Run a queued job in this process (the worker's body; also usable from the CLI)."""
    store = ArtifactStore(Path(root))
    d = job_dir(store, job_id)
    job = read_json(d / "job.json")
    job.pop("schema_version", None)
    if job["status"] != QUEUED:
        raise StoreError(f"{d / 'job.json'}: job is {job['status']}, not queued")
    rep = _Reporter(d)
    if rep.flag.exists():
        return _finish(d, job, CANCELLED, error="cancelled before it started")
    job.update(
        status=RUNNING, started_at=_now(), pid=os.getpid(), pid_started=process_start(os.getpid())
    )
    _write_job(d, job)
    _log(d, "started", pid=os.getpid())
    fn = JOB_KINDS[job["kind"]]
    try:
        result = fn(store, dict(job["params"]), rep.progress, rep.cancel)
    except KeyboardInterrupt as exc:
        status = CANCELLED if rep.flag.exists() else INTERRUPTED
        return _finish(d, _with_progress(job, rep), status, error=f"interrupted: {exc}")
    except Exception as exc:
        _log(d, "traceback", traceback=traceback.format_exc())
        error = f"{type(exc).__name__}: {exc}"
        return _finish(d, _with_progress(job, rep), FAILED, error=error)
    done, total = rep.last
    finished = total > 0 and done >= total  # a cancel that came too late changes nothing
    status = CANCELLED if rep.flag.exists() and not finished else COMPLETED
    return _finish(d, _with_progress(job, rep), status, result=result)


def _with_progress(job: dict[str, Any], rep: _Reporter) -> dict[str, Any]:
    if rep.last != (0, 0):
        job = {**job, "progress": {"done": rep.last[0], "total": rep.last[1]}}
    return job


def _worker_main(root: str, job_id: str) -> None:
    """Entry point of a spawned worker: output to the job's output.log, then run it."""
    d = job_dir(ArtifactStore(Path(root)), job_id)
    with open(d / "output.log", "a", buffering=1, encoding="utf-8") as out:
        sys.stdout = sys.stderr = out
        run_job(root, job_id)


# -- the manager (lives in the server process) ---------------------------------------------


class JobManager:
    """Submits jobs, runs at most ``max_workers`` worker processes, watches them die.

    A monitor thread starts queued jobs, escalates unanswered cancels (terminate after
    ``grace_s``) and marks a job ``failed`` when its worker exits without a result.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        max_workers: int = 2,
        grace_s: float = 10.0,
        poll_s: float = 0.1,
    ) -> None:
        self.store = ArtifactStore(Path(root))
        self.root = self.store.root
        self.max_workers = max_workers
        self.grace_s = grace_s
        self.poll_s = poll_s
        self._ctx = mp.get_context("spawn")
        self._lock = threading.RLock()
        self._queue: list[str] = []
        self._procs: dict[str, BaseProcess] = {}
        self._cancel_seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # public API
    def check_claim(self, claim: tuple[str, str] | None) -> None:
        """``AlreadyExistsError`` when an active job of this manager will make the item
        ``claim`` = (store kind, id): a second request for the same new id is refused at once
        instead of failing later in its job."""
        if claim is None:
            return
        for job in self.active():
            if job.get("claim") == list(claim):
                raise AlreadyExistsError(
                    f"{claim[0]} {claim[1]!r} is already being made by job {job['job_id']}"
                )

    def submit(
        self,
        kind: str,
        params: Mapping[str, Any] | None = None,
        *,
        claim: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """Queue a job. ``claim``: the (store kind, id) of the item it will create (see
        ``check_claim``)."""
        if kind not in JOB_KINDS:
            raise ValueError(f"unknown job kind {kind!r} (known: {', '.join(sorted(JOB_KINDS))})")
        with self._lock:
            self.check_claim(claim)
            return self._submit(kind, params, claim)

    def _submit(
        self, kind: str, params: Mapping[str, Any] | None, claim: tuple[str, str] | None
    ) -> dict[str, Any]:
        jid = new_id("job")
        d = self.store.create_item(KIND, jid)
        job: dict[str, Any] = {
            "job_id": jid,
            "kind": kind,
            "params": dict(params or {}),
            "status": QUEUED,
            "progress": {"done": 0, "total": 0},
            "result": None,
            "error": None,
            "created_at": _now(),
            "started_at": None,
            "finished_at": None,
            "pid": None,
            "owner_pid": os.getpid(),
        }
        if claim is not None:
            job["claim"] = list(claim)
        _write_job(d, job)
        _log(d, "submitted", kind=kind)
        with self._lock:
            self._queue.append(jid)
        self.start()
        self._tick()
        return read_job(self.store, jid)

    def get(self, job_id: str) -> dict[str, Any]:
        job = read_job(self.store, job_id)
        with self._lock:
            owned = job_id in self._procs or job_id in self._queue
        return job if owned else _mark_dead_if_orphaned(self.store, job)

    def list_jobs(self) -> list[dict[str, Any]]:
        return [self.get(j["job_id"]) for j in list_jobs(self.store)]

    def cancel(self, job_id: str) -> dict[str, Any]:
        job = request_cancel(self.store, job_id)
        self._tick()
        return self.get(job_id) if job["status"] in ACTIVE else job

    def active(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Jobs of this manager that are queued or running."""
        with self._lock:
            ids = [*self._queue, *self._procs]
        jobs = []
        for jid in ids:
            with contextlib.suppress(StoreError):
                job = read_job(self.store, jid)
                if job["status"] in ACTIVE and (kind is None or job["kind"] == kind):
                    jobs.append(job)
        return jobs

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._monitor, name="ttt-jobs", daemon=True)
                self._thread.start()

    def close(self, *, cancel_running: bool = True, timeout_s: float | None = None) -> None:
        """Stop the monitor; cancel queued jobs and (by default) running ones, gracefully."""
        with self._lock:
            queued, procs = list(self._queue), dict(self._procs)
        for jid in queued:
            with contextlib.suppress(StoreError):
                request_cancel(self.store, jid)
        if cancel_running:
            for jid in procs:
                with contextlib.suppress(StoreError):
                    request_cancel(self.store, jid)
            deadline = time.monotonic() + (self.grace_s if timeout_s is None else timeout_s)
            for proc in procs.values():
                proc.join(max(0.0, deadline - time.monotonic()))
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._tick(final=True)

    # internals
    def _monitor(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self._tick()
            except Exception:  # keep watching; the error is in the job's files
                traceback.print_exc()

    def _tick(self, *, final: bool = False) -> None:
        with self._lock:
            self._reap(final=final)
            self._escalate_cancels(final=final)
            self._launch(final=final)

    def _reap(self, *, final: bool) -> None:
        for jid, proc in list(self._procs.items()):
            if proc.is_alive():
                continue
            proc.join()
            del self._procs[jid]
            self._cancel_seen.pop(jid, None)
            d = job_dir(self.store, jid)
            job = read_job(self.store, jid)
            if job["status"] in TERMINAL:
                continue
            if job["cancel_requested"]:
                _finish(d, job, CANCELLED, error=f"terminated (exit code {proc.exitcode})")
            else:
                reason = f"worker process exited with code {proc.exitcode} without a result"
                _finish(d, job, INTERRUPTED, error=reason)

    def _escalate_cancels(self, *, final: bool) -> None:
        now = time.monotonic()
        for jid, proc in list(self._procs.items()):
            if not _cancel_flag(job_dir(self.store, jid)).exists():
                continue
            first = self._cancel_seen.setdefault(jid, now)
            if final or now - first >= self.grace_s:
                _log(job_dir(self.store, jid), "terminating", after_s=round(now - first, 2))
                proc.terminate()
                proc.join(2.0)
                if proc.is_alive():
                    proc.kill()
                    proc.join(2.0)
        if final:
            self._reap(final=True)

    def _launch(self, *, final: bool) -> None:
        for jid in list(self._queue):
            d = job_dir(self.store, jid)
            if _cancel_flag(d).exists() or final:
                self._queue.remove(jid)
                job = read_job(self.store, jid)
                if job["status"] == QUEUED:
                    why = "cancelled before it started" if not final else "server stopped"
                    _finish(d, job, CANCELLED, error=why)
                continue
            if len(self._procs) >= self.max_workers:
                break
            self._queue.remove(jid)
            proc = self._ctx.Process(
                target=_worker_main, args=(str(self.root), jid), name=f"ttt-job-{jid}"
            )
            proc.daemon = True
            proc.start()
            self._procs[jid] = proc
