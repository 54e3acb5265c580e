"""Concurrency and crashes: the item lock serialises writers across processes, and a writer
killed with SIGKILL at a random moment never leaves an unreadable file behind."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from ttt.store import (
    ArtifactStore,
    LockTimeoutError,
    append_jsonl,
    read_json,
    read_jsonl,
    read_jsonl_ex,
    read_tensors,
    write_json,
)

N_PER_WORKER = 200


def _bump_counter(root: str, n: int) -> None:
    """Read-modify-write a counter under the item lock, n times."""
    os.fsync = lambda fd: None  # this test is about mutual exclusion, not durability
    store = ArtifactStore(root)
    state = store.item_dir("jobs", "counter") / "state.json"
    for _ in range(n):
        with store.lock("jobs", "counter", timeout=20):
            value = read_json(state)["value"]
            write_json(state, {"value": value + 1})
            append_jsonl(state.with_name("log.jsonl"), {"pid": os.getpid(), "value": value + 1})
        time.sleep(0.0005)  # let the other process in between rounds


def test_lock_prevents_lost_updates(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    d = store.create_item("jobs", "counter")
    write_json(d / "state.json", {"value": 0})
    ctx = mp.get_context("fork")  # fast start; the workers only touch files
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork-with-threads on 3.12+
        procs = [ctx.Process(target=_bump_counter, args=(str(tmp_path), N_PER_WORKER))]
        procs.append(ctx.Process(target=_bump_counter, args=(str(tmp_path), N_PER_WORKER)))
        for p in procs:
            p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert read_json(d / "state.json")["value"] == 2 * N_PER_WORKER
    log = read_jsonl(d / "log.jsonl")
    assert [r["value"] for r in log] == list(range(1, 2 * N_PER_WORKER + 1))
    assert len({r["pid"] for r in log}) == 2


def test_lock_timeout_and_reentry(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    errors: list[BaseException] = []

    def contender() -> None:
        try:
            with store.lock("sessions", "s1", timeout=0.1):
                pass
        except LockTimeoutError as e:
            errors.append(e)

    with store.lock("sessions", "s1"):
        with store.lock("sessions", "s1", timeout=0.1):  # same thread: re-entrant
            pass
        t = threading.Thread(target=contender)
        t.start()
        t.join()
    assert len(errors) == 1 and "session 's1' is locked by another writer" in str(errors[0])
    contender()  # free again
    assert len(errors) == 1


WRITER = r"""
import sys, torch
from pathlib import Path
from ttt.store import append_jsonl, read_jsonl, write_json, write_tensors
d = Path(sys.argv[1])
log = d / "log.jsonl"
i = read_jsonl(log)[-1]["i"] + 1 if log.exists() else 0
print("ready", flush=True)
while True:
    write_tensors(d / "w.safetensors", {"w": torch.full((64, 64), float(i))})
    append_jsonl(log, {"i": i, "pad": "y" * (i * 37 % 3000)})
    write_json(d / "state.json", {"i": i, "pad": "x" * (i * 53 % 5000)})
    i += 1
"""


def test_sigkill_never_leaves_unreadable_files(tmp_path: Path) -> None:
    rng = random.Random()
    for _ in range(3):  # each round resumes from the files the killed writer left
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.02, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL

        records, torn = read_jsonl_ex(tmp_path / "log.jsonl")
        ids = [r["i"] for r in records]
        assert ids == list(range(len(ids))) and torn <= 1
        if (tmp_path / "state.json").exists():
            # log i is appended before state i is written: state lags the log by at most one
            assert ids[-1] - 1 <= read_json(tmp_path / "state.json")["i"] <= ids[-1]
        if (tmp_path / "w.safetensors").exists():
            assert read_tensors(tmp_path / "w.safetensors")["w"].shape == (64, 64)
    assert len(ids) > 0


@pytest.mark.parametrize("cut", [1, 7, 19])
def test_resume_after_torn_append(tmp_path: Path, cut: int) -> None:
    """What a kill in the middle of a large append would leave: a prefix of the line."""
    p = tmp_path / "events.jsonl"
    append_jsonl(p, {"i": 0})
    line = b'{"i": 1, "text": "abcdef"}\n'
    with open(p, "ab") as f:
        f.write(line[:cut])
    append_jsonl(p, {"i": 2})
    assert read_jsonl_ex(p) == ([{"i": 0}, {"i": 2}], 1)
