"""A run killed with SIGKILL leaves a session that loads at its last checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from ttt.nano import session as S

SCRIPT = """
import sys
from ttt.store import ArtifactStore
from ttt.nano.session import run_session
store = ArtifactStore(sys.argv[1])
print("start", flush=True)
run_session(store, sys.argv[2], steps=10_000_000, checkpoint_seconds=0.05)
"""


def test_sigkill_mid_run_leaves_a_loadable_session(store):
    sid = S.create_session(store, base_id="tiny-base", mu=0.1, seed=3, session_id="victim")
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(store.root), sid],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"start"
    d = store.item_dir("sessions", sid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (d / "state.json").exists() and json.loads((d / "state.json").read_text())["t"] > 200:
            break
        time.sleep(0.05)
    time.sleep(0.37)  # land somewhere inside a checkpoint interval
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()

    state = json.loads((d / "state.json").read_text())
    assert state["t"] > 0
    runs = S.list_runs(store, sid)
    assert len(runs) == 1 and runs[0]["status"] == "interrupted"
    # The history never references weights that were not written.
    hist = S.weight_history(store, sid)
    S.weights_at(store, sid, hist[-1]["k"])
    # The session continues from its checkpoint.
    rid = S.run_session(store, sid, steps=20)
    run = S.read_json_run(store, sid, rid, "run.json")
    assert run["t_start"] == state["t"] and run["status"] == "completed"
