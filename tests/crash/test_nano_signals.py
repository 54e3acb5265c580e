"""SIGTERM / SIGINT to a real ``ttt nano session run``: the run stops at a chunk boundary with
everything done so far committed (status ``cancelled``); a second signal stops at once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness import BOOT, _env
from nano_cases import Reference, assert_same_state, check_session, prepare_run

from ttt.nano.persist import load_state
from ttt.store import ArtifactStore


def _run_and_signal(root: Path, sigs: list[signal.Signals]) -> tuple[int, str]:
    argv = ["nano", "session", "run", "s", "--steps", "100000", "--checkpoint-seconds", "0.2", "-q"]
    proc = subprocess.Popen(
        [sys.executable, "-c", BOOT, *argv],
        env=_env(root, None, None),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    d = root / "sessions" / "s"
    t0 = json.loads((d / "state.json").read_text())["t"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (d / ".writer").exists() and json.loads((d / "state.json").read_text())["t"] > t0 + 40:
            break
        time.sleep(0.05)
    for s in sigs:
        proc.send_signal(s)
        time.sleep(0.05)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode(errors="replace")


@pytest.mark.parametrize(
    ("sigs", "rc"),
    [
        ([signal.SIGTERM], 143),
        pytest.param([signal.SIGINT], 130, marks=pytest.mark.slow),
        pytest.param([signal.SIGINT, signal.SIGINT], 130, marks=pytest.mark.slow),
    ],
    ids=["sigterm", "sigint", "sigint-twice"],
)
def test_signal_stops_the_run_with_its_work_committed(tmp_path, sigs, rc):
    root = tmp_path / "artifacts"
    ctx = prepare_run(root)
    ref = Reference(root, "s")
    code, err = _run_and_signal(root, sigs)
    assert code == rc, err
    store = ArtifactStore(root)
    t, commits = check_session(root, "s", t_min=ctx["t0"] + 40, commits_min=ctx["commits0"])
    from ttt.nano import session as S

    run = S.list_runs(store, "s")[-1]
    assert run["status"] == "cancelled" and run["t_end"] == t
    assert_same_state(load_state(store.item_dir("sessions", "s")), ref.state_at(t), "after signal")
