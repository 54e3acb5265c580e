"""Is the process that wrote a file still alive? (Readers report a dead writer's work as
``interrupted`` instead of ``running``.)"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, /proc/<pid>/stat field 22);
    None where /proc is not available or the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (the command) may hold spaces and parentheses: split after its closing ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def pid_alive(pid: Any, started: Any = None) -> bool:
    """Is process ``pid`` alive, and (when ``started`` was recorded with ``process_start``)
    the same process, not a later one that reused the pid? A value that is not a positive
    int (a missing or corrupt field) is not alive."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if started is not None:
        now = process_start(pid)
        return now is None or now == started  # None: no /proc, trust the pid
    return True
