"""A text model whose training process was killed does not read ``training`` forever: the
API (and ``ttt lm list``) report it ``interrupted`` with how to continue it, its live stream
ends, its job is interrupted, and ``resume_training`` completes it."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from apitools import sse_events, wait_job

from ttt.jobs import read_job
from ttt.models import registry
from ttt.store import ArtifactStore


def wait_for(fn: Any, what: str, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_killed_training_is_interrupted_and_resumable(
    tmp_path: Path, tiny_corpus: Path, make_client: Any
) -> None:
    root = tmp_path / "artifacts"
    shutil.copytree(tiny_corpus, root / "corpus")
    c = make_client(root)
    body = {"corpus": ["corpus"], "preset": "tiny", "steps": 100_000, "model_id": "lm-k"}
    r = c.post("/api/text_models/train", json=body)
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]

    def past_a_checkpoint() -> bool:  # the tiny preset saves one every 10 steps
        return bool(c.get(f"/api/jobs/{job_id}").json()["progress"]["done"] >= 15)

    wait_for(past_a_checkpoint, "a checkpoint", timeout=300)
    summary = c.get("/api/text_models/lm-k").json()["summary"]
    assert summary["status"] == "training"  # its trainer lives
    os.kill(read_job(ArtifactStore(root), job_id)["pid"], signal.SIGKILL)

    job = wait_job(c, job_id)
    assert job["status"] == "interrupted"
    detail = c.get("/api/text_models/lm-k").json()
    assert detail["summary"]["status"] == "interrupted"
    assert "ttt lm train --resume lm-k" in detail["summary"]["error"]
    listed = c.get("/api/text_models").json()["items"][0]
    assert listed["model_id"] == "lm-k" and listed["status"] == "interrupted"
    assert c.get("/api/text_models/lm-k/train_log").json()["status"] == "interrupted"
    events = sse_events(c.get("/api/text_models/lm-k/stream", params={"wait_s": 1}).text)
    assert events[-1] == ("status", {**events[-1][1], "status": "interrupted"})
    # Stored status is unchanged: the model is resumable as it was.
    store = ArtifactStore(root)
    assert registry.read_meta(store, "lm-k")["status"] == "training"

    from ttt.models.train import resume_training

    polls = iter(range(10**9))
    result = resume_training(store, "lm-k", cancel=lambda: next(polls) >= 25)
    assert result.status == "cancelled" and result.step > 10  # on from its checkpoint
    assert c.get("/api/text_models/lm-k").json()["summary"]["status"] == "cancelled"


def test_a_live_trainer_is_not_interrupted(tmp_path: Path, tiny_lm_root: Path) -> None:
    """While a process holds the model's lock (as the trainer does), it reads training."""
    import multiprocessing as mp

    root = tmp_path / "artifacts"
    shutil.copytree(tiny_lm_root, root)
    store = ArtifactStore(root)
    registry.update_meta(store, "tiny-lm", status=registry.TRAINING)
    meta = registry.read_meta(store, "tiny-lm")
    assert registry.reported_status(store, meta) == registry.INTERRUPTED
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(root), ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        assert registry.reported_status(store, meta) == registry.TRAINING
    finally:
        release.set()
        holder.join(30)
    assert registry.reported_status(store, meta) == registry.INTERRUPTED


def _hold_lock(root: str, ready: Any, release: Any) -> None:
    store = ArtifactStore(Path(root))
    with store.lock(registry.KIND, "tiny-lm"):
        ready.set()
        release.wait(60)
