"""Fault injection for crash tests: SIGKILL this process right before its Nth durable file
operation (``os.replace``, ``os.fsync``, ``os.unlink``, ``os.mkdir``, ``os.write`` ...).

Every write of the artifact store goes through these calls, so "kill before operation N"
for N = 1..total enumerates every point at which a writer can die between two steps that
reach the disk (the way SQLite's crash tests do). A forked child or a subprocess installs
it; the parent then inspects what is left on disk.

    install(kill_at=17)                 # this process dies before its 17th operation
    install(kill_at=None, count_file=p) # count only; the total is written to p at exit

In a subprocess started by ``harness.py``, ``install_from_env()`` reads ``TTT_CRASH_AT_OP``
and ``TTT_CRASH_COUNT_FILE``.
"""

from __future__ import annotations

import atexit
import os
import signal

OPS = ("replace", "rename", "fsync", "unlink", "rmdir", "mkdir", "write", "truncate", "ftruncate")
_ORIG = {name: getattr(os, name) for name in OPS}
_state = {"count": 0, "kill_at": 0}


def count() -> int:
    return _state["count"]


def install(kill_at: int | None, count_file: str | None = None) -> None:
    """Patch the ``os`` functions in this process (idempotent per process)."""
    _state["count"] = 0
    _state["kill_at"] = kill_at or 0

    def wrap(fn):  # type: ignore[no-untyped-def]
        def inner(*args, **kwargs):  # type: ignore[no-untyped-def]
            _state["count"] += 1
            if _state["kill_at"] and _state["count"] >= _state["kill_at"]:
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(*args, **kwargs)

        return inner

    for name in OPS:
        setattr(os, name, wrap(_ORIG[name]))
    if count_file:

        def dump() -> None:
            fd = os.open(count_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                _ORIG["write"](fd, str(_state["count"]).encode())
            finally:
                os.close(fd)

        atexit.register(dump)


def uninstall() -> None:
    for name in OPS:
        setattr(os, name, _ORIG[name])


def install_from_env() -> None:
    at = os.environ.get("TTT_CRASH_AT_OP")
    count_file = os.environ.get("TTT_CRASH_COUNT_FILE")
    if at or count_file:
        install(int(at) if at else None, count_file)
