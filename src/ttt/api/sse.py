"""Server-Sent Events: framing, a job's progress, and a running session's live.jsonl tail.

Streams poll files with ``asyncio.sleep`` (file reads run in a worker thread, so the event
loop never blocks), send a comment every ``KEEPALIVE_S`` while idle, and stop when the
client disconnects or the followed work ends. Each ``rows`` event of the live stream has an
``id``: the byte offset in live.jsonl after its last line, so a reconnecting EventSource
(``Last-Event-ID``) resumes exactly where it stopped.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from anyio import to_thread

from ttt.api.cache import FileCache
from ttt.api.readers import effective_status, running_run, runs_of
from ttt.jobs import TERMINAL, JobManager
from ttt.store import ArtifactStore, StoreError, read_json

KEEPALIVE_S = 15.0
RETRY_MS = 2000
MAX_READ_BYTES = 4 << 20
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

Disconnected = Callable[[], Awaitable[bool]]


def frame(event: str, data: Any, *, id: str | int | None = None) -> bytes:
    """One SSE message (``data`` as compact JSON on one line)."""
    head = f"id: {id}\n" if id is not None else ""
    body = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return f"{head}event: {event}\ndata: {body}\n\n".encode()


def comment(text: str = "keepalive") -> bytes:
    return f": {text}\n\n".encode()


def retry(ms: int = RETRY_MS) -> bytes:
    return f"retry: {ms}\n\n".encode()


async def job_stream(
    jobs: JobManager, job_id: str, disconnected: Disconnected, *, poll_s: float = 0.25
) -> AsyncIterator[bytes]:
    """``progress`` whenever it changes, then ``done`` with the final job."""
    yield retry()
    last: tuple[Any, ...] | None = None
    quiet_since = time.monotonic()
    while not await disconnected():
        job = await to_thread.run_sync(jobs.get, job_id)
        prog = job.get("progress") or {}
        key = (job["status"], prog.get("done", 0), prog.get("total", 0))
        if key != last:
            last, quiet_since = key, time.monotonic()
            payload = {"job_id": job_id, "status": key[0], "done": key[1], "total": key[2]}
            yield frame("progress", payload)
        if job["status"] in TERMINAL:
            yield frame("done", job)
            return
        if time.monotonic() - quiet_since >= KEEPALIVE_S:
            quiet_since = time.monotonic()
            yield comment()
        await asyncio.sleep(poll_s)


def _read_from(path: Path, offset: int) -> tuple[bytes, int]:
    """Complete lines of ``path`` from ``offset`` (at most MAX_READ_BYTES): (data, new offset)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            chunk = f.read(MAX_READ_BYTES)
    except FileNotFoundError:
        return b"", offset
    end = chunk.rfind(b"\n")
    if end < 0:
        return b"", offset  # a torn or half-written last line: wait for its newline
    return chunk[: end + 1], offset + end + 1


def _parse_lines(data: bytes) -> tuple[list[list[Any]], list[dict[str, Any]], int | None]:
    rows: list[list[Any]] = []
    events: list[dict[str, Any]] = []
    t_end: int | None = None
    for line in data.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a torn line left by a killed writer
        if not isinstance(rec, dict):
            continue
        rows.extend(rec.get("rows") or [])
        events.extend(rec.get("events") or [])
        if rec.get("t_end") is not None:
            t_end = int(rec["t_end"])
    return rows, events, t_end


class LiveTail:
    """Follows the running run of a session (or a given run) through its live.jsonl."""

    def __init__(
        self,
        store: ArtifactStore,
        cache: FileCache,
        session_id: str,
        *,
        run_id: str | None = None,
        offset: int = 0,
        wait_s: float = 10.0,
        poll_s: float = 0.2,
    ) -> None:
        self.store, self.cache = store, cache
        self.session_id, self.run_id = session_id, run_id
        self.offset, self.wait_s, self.poll_s = offset, wait_s, poll_s

    def _find_run(self) -> dict[str, Any] | None:
        runs = runs_of(self.cache, self.store, self.session_id)
        if self.run_id is None:
            return running_run(runs)
        return next((r for r in runs if r["run_id"] == self.run_id), None)

    def _run_status(self, rd: Path) -> dict[str, Any]:
        try:
            run = dict(self.cache.get("run.json", rd / "run.json", read_json))
        except (StoreError, FileNotFoundError):
            return {"status": "unknown"}
        run["status"] = effective_status(run)
        return run

    async def stream(self, disconnected: Disconnected) -> AsyncIterator[bytes]:
        yield retry()
        run = await to_thread.run_sync(self._find_run)
        deadline = time.monotonic() + self.wait_s
        while run is None and time.monotonic() < deadline:
            if await disconnected():
                return
            await asyncio.sleep(self.poll_s)
            run = await to_thread.run_sync(self._find_run)
        if run is None:
            yield frame("status", {"run_id": self.run_id, "status": "idle", "t_end": None})
            return
        rid = run["run_id"]
        rd = self.store.resolve("sessions", self.session_id, "runs", rid)
        yield frame("status", {"run_id": rid, "status": run["status"], "t_end": run.get("t_end")})
        quiet_since = time.monotonic()
        while not await disconnected():
            sent = False
            async for chunk in self._drain(rd / "live.jsonl"):
                sent = True
                yield chunk
            if sent:
                quiet_since = time.monotonic()
                continue
            info = await to_thread.run_sync(self._run_status, rd)
            if info["status"] != "running":
                # The writer closes live.jsonl before it marks the run finished, so the file
                # is complete now: drain it, then send the final status.
                async for chunk in self._drain(rd / "live.jsonl"):
                    yield chunk
                payload = {"run_id": rid, "status": info["status"], "t_end": info.get("t_end")}
                yield frame("status", payload)
                return
            if time.monotonic() - quiet_since >= KEEPALIVE_S:
                quiet_since = time.monotonic()
                yield comment()
            await asyncio.sleep(self.poll_s)

    async def _drain(self, path: Path) -> AsyncIterator[bytes]:
        """``rows`` and ``event`` frames for every complete line after the offset."""
        while True:
            data, new_offset = await to_thread.run_sync(_read_from, path, self.offset)
            if not data:
                return
            self.offset = new_offset
            rows, events, t_end = _parse_lines(data)
            if rows:
                yield frame("rows", {"rows": rows, "t_end": t_end}, id=self.offset)
            for ev in events:
                yield frame("event", ev)
