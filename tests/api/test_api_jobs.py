"""Jobs: worker processes with progress, cancel, failure and death; the API's job routes."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ttt.jobs import JobManager, list_jobs, read_job, request_cancel
from ttt.store import ArtifactStore, read_jsonl, write_json


def wait_done(get: Any, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = get(job_id)
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {get(job_id)}")


def wait_running(mgr: JobManager, job_id: str, done_at_least: int = 1) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = mgr.get(job_id)
        if job["status"] == "running" and job["progress"]["done"] >= done_at_least:
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never ran: {mgr.get(job_id)}")


@pytest.fixture()
def mgr(tmp_path: Path) -> Iterator[JobManager]:
    m = JobManager(tmp_path / "artifacts", max_workers=2, grace_s=1.0, poll_s=0.05)
    yield m
    m.close(timeout_s=2)


def test_job_runs_with_progress_and_log(mgr: JobManager) -> None:
    job = mgr.submit("selftest", {"steps": 5, "sleep_s": 0.01})
    assert job["status"] == "queued" and job["kind"] == "selftest"
    done = wait_done(mgr.get, job["job_id"])
    assert done["status"] == "completed" and done["result"] == {"done": 5}
    assert done["progress"] == {"done": 5, "total": 5}
    d = mgr.store.item_dir("jobs", job["job_id"])
    events = [r["event"] for r in read_jsonl(d / "log.jsonl")]
    assert events == ["submitted", "started", "completed"]
    assert done["started_at"] and done["finished_at"]


def test_cancel_is_cooperative(mgr: JobManager) -> None:
    job = mgr.submit("selftest", {"steps": 10_000, "sleep_s": 0.01})
    wait_running(mgr, job["job_id"])
    mgr.cancel(job["job_id"])
    done = wait_done(mgr.get, job["job_id"])
    assert done["status"] == "cancelled" and done["result"]["cancelled"] is True
    assert done["cancel_requested"] is True


def test_cancel_terminates_after_grace(mgr: JobManager) -> None:
    job = mgr.submit("selftest", {"steps": 10_000, "sleep_s": 0.01, "ignore_cancel": True})
    wait_running(mgr, job["job_id"])
    t0 = time.monotonic()
    mgr.cancel(job["job_id"])
    done = wait_done(mgr.get, job["job_id"])
    assert done["status"] == "cancelled" and "terminated" in done["error"]
    assert time.monotonic() - t0 >= 0.9  # the grace period was given


def test_cancel_queued_job(tmp_path: Path) -> None:
    m = JobManager(tmp_path / "artifacts", max_workers=1, grace_s=1.0, poll_s=0.05)
    try:
        first = m.submit("selftest", {"steps": 10_000, "sleep_s": 0.01})
        second = m.submit("selftest", {"steps": 1})
        assert m.get(second["job_id"])["status"] == "queued"  # one worker at a time
        m.cancel(second["job_id"])
        assert wait_done(m.get, second["job_id"])["status"] == "cancelled"
        m.cancel(first["job_id"])
        assert wait_done(m.get, first["job_id"])["status"] == "cancelled"
    finally:
        m.close(timeout_s=2)


def test_failing_job_reports_the_error(mgr: JobManager) -> None:
    job = mgr.submit("selftest", {"steps": 5, "fail_at": 2})
    done = wait_done(mgr.get, job["job_id"])
    assert done["status"] == "failed"
    assert done["error"] == "ValueError: selftest failing at step 2 as asked"
    d = mgr.store.item_dir("jobs", job["job_id"])
    assert any(r["event"] == "traceback" for r in read_jsonl(d / "log.jsonl"))


def test_dead_worker_is_interrupted_with_reason(mgr: JobManager) -> None:
    job = mgr.submit("selftest", {"steps": 5, "exit_at": 1})
    done = wait_done(mgr.get, job["job_id"])
    assert done["status"] == "interrupted"
    assert "exited with code 3" in done["error"]


def test_killed_worker_is_interrupted_not_running(mgr: JobManager, tmp_path: Path) -> None:
    """SIGKILL of a real worker: its own manager and a reader of the files alone (the CLI, or
    a server started later) both report it interrupted, never running."""
    import signal

    job = mgr.submit("selftest", {"steps": 100_000, "sleep_s": 0.01})
    wait_running(mgr, job["job_id"])
    pid = read_job(mgr.store, job["job_id"])["pid"]
    os.kill(pid, signal.SIGKILL)
    done = wait_done(mgr.get, job["job_id"])
    assert done["status"] == "interrupted" and str(-signal.SIGKILL) in done["error"]
    (listed,) = list_jobs(mgr.store)
    assert listed["status"] == "interrupted"


def test_orphaned_running_job_is_interrupted(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    d = store.create_item("jobs", "job-orphan")
    write_json(
        d / "job.json",
        {
            "job_id": "job-orphan",
            "kind": "selftest",
            "params": {},
            "status": "running",
            "progress": {"done": 1, "total": 9},
            "result": None,
            "error": None,
            "created_at": "x",
            "pid": 2**22 + 4321,
        },
    )
    (job,) = list_jobs(store)
    assert job["status"] == "interrupted" and "is gone" in job["error"]
    assert read_job(store, "job-orphan")["status"] == "interrupted"  # written back


def test_recycled_pid_does_not_keep_a_dead_job_running(tmp_path: Path) -> None:
    """The pid of a dead worker now belongs to another live process (here: this one): its
    start time differs from the one the worker recorded, so the job is interrupted."""
    from ttt.procs import process_start

    if process_start(os.getpid()) is None:
        pytest.skip("no /proc on this system")
    store = ArtifactStore(tmp_path / "artifacts")
    d = store.create_item("jobs", "job-reused")
    job = {
        "job_id": "job-reused",
        "kind": "selftest",
        "params": {},
        "status": "running",
        "progress": {"done": 1, "total": 9},
        "result": None,
        "error": None,
        "created_at": "x",
        "pid": os.getpid(),
        "pid_started": "1",  # not when this process started
    }
    write_json(d / "job.json", job)
    (listed,) = list_jobs(store)
    assert listed["status"] == "interrupted"
    write_json(d / "job.json", {**job, "pid_started": process_start(os.getpid())})
    assert read_job(store, "job-reused")["status"] == "running"
    (listed,) = list_jobs(store)
    assert listed["status"] == "running"  # the same live process: still running


def test_cli_side_cancel_flag(mgr: JobManager) -> None:
    job = mgr.submit("selftest", {"steps": 10_000, "sleep_s": 0.01})
    wait_running(mgr, job["job_id"])
    request_cancel(mgr.store, job["job_id"])  # what a `ttt jobs cancel` would do
    assert wait_done(mgr.get, job["job_id"])["status"] == "cancelled"


def test_unknown_kind(mgr: JobManager) -> None:
    with pytest.raises(ValueError, match="unknown job kind"):
        mgr.submit("nope", {})


# -- through the API, with the real domain -----------------------------------------------


@pytest.fixture()
def job_client(make_client, tiny_base_root: Path, tmp_path: Path):
    root = tmp_path / "jobs-root"
    shutil.copytree(tiny_base_root, root)
    os.environ.pop("ARTIFACTS_ROOT", None)
    return make_client(root)


def test_api_create_run_fork_as_jobs(job_client) -> None:
    c = job_client
    get = lambda jid: c.get(f"/api/jobs/{jid}").json()  # noqa: E731
    created = c.post("/api/sessions", json={"session_id": "api-s", "mu": 0.15, "seed": 3})
    assert created.status_code == 202, created.text
    assert created.json()["params"]["session_id"] == "api-s"
    done = wait_done(get, created.json()["job_id"])
    assert done["status"] == "completed" and done["result"] == {"session_id": "api-s"}

    run = c.post("/api/sessions/api-s/run", json={"steps": 64}).json()
    run_id = run["params"]["run_id"]
    # The job stream: progress events, then one done event (the stream ends by itself).
    text = c.get(f"/api/jobs/{run['job_id']}/stream").text
    assert "event: progress" in text and text.count("event: done") == 1
    done = wait_done(get, run["job_id"])
    assert done["status"] == "completed" and done["result"]["run_id"] == run_id
    assert done["progress"] == {"done": 64, "total": 64}
    detail = c.get("/api/sessions/api-s").json()
    assert [r["run_id"] for r in detail["runs"]] == [run_id]
    assert c.get(f"/api/sessions/api-s/runs/{run_id}/per_step").json()["total"] == 64

    body = {"from_update": 1, "with_momentum": False, "new_session_id": "api-fork"}
    fork = c.post("/api/sessions/api-s/fork", json=body).json()
    done = wait_done(get, fork["job_id"])
    assert done["status"] == "completed" and done["result"]["session_id"] == "api-fork"
    parent = c.get("/api/sessions/api-fork").json()["meta"]["parent"]
    assert parent["session_id"] == "api-s" and parent["with_momentum"] is False

    jobs = c.get("/api/jobs").json()
    assert jobs["total"] == 3 and {j["kind"] for j in jobs["items"]} == {
        "create_session",
        "run_session",
        "fork_session",
    }
    assert c.post("/api/sessions", json={"session_id": "api-s"}).status_code == 409


def test_api_cancel_run(job_client) -> None:
    c = job_client
    get = lambda jid: c.get(f"/api/jobs/{jid}").json()  # noqa: E731
    wait_done(get, c.post("/api/sessions", json={"session_id": "s-c", "seed": 1}).json()["job_id"])
    job = c.post("/api/sessions/s-c/run", json={"steps": 1_000_000}).json()
    deadline = time.monotonic() + 60
    while get(job["job_id"])["progress"]["done"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert c.post("/api/sessions/s-c/run", json={"steps": 5}).status_code == 409
    assert c.post(f"/api/jobs/{job['job_id']}/cancel").json()["cancel_requested"] is True
    done = wait_done(get, job["job_id"])
    assert done["status"] == "cancelled"
    (run,) = c.get("/api/sessions/s-c").json()["runs"]
    assert run["status"] == "cancelled" and 0 < run["t_end"] < 1_000_000


def test_api_failed_job_reports_domain_error(job_client) -> None:
    """What the API cannot check before the job (a state file corrupted on disk) fails the
    job with the domain's error naming the file."""
    c = job_client
    get = lambda jid: c.get(f"/api/jobs/{jid}").json()  # noqa: E731
    created = c.post("/api/sessions", json={"session_id": "s-bad", "seed": 1}).json()
    assert wait_done(get, created["job_id"])["status"] == "completed"
    root = Path(c.app.state.ctx.store.root)
    (root / "sessions" / "s-bad" / "plastic_state.safetensors").write_bytes(b"not tensors")
    job = c.post("/api/sessions/s-bad/run", json={"steps": 16}).json()
    done = wait_done(get, job["job_id"])
    assert done["status"] == "failed" and "plastic_state.safetensors" in done["error"]


def test_api_unknown_base_is_404_before_any_job(job_client) -> None:
    c = job_client
    r = c.post("/api/sessions", json={"base_id": "no-such-base"})
    assert r.status_code == 404 and "no-such-base" in r.json()["detail"]
    assert c.get("/api/jobs").json()["total"] == 0


def test_api_job_404(client) -> None:
    assert client.get("/api/jobs/job-nope").status_code == 404
    assert client.post("/api/jobs/job-nope/cancel").status_code == 404
    assert client.get("/api/jobs/job-nope/stream").status_code == 404


def test_orphaned_queued_job_is_interrupted(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    d = store.create_item("jobs", "job-q")
    write_json(
        d / "job.json",
        {
            "job_id": "job-q",
            "kind": "selftest",
            "params": {},
            "status": "queued",
            "progress": {"done": 0, "total": 0},
            "result": None,
            "error": None,
            "created_at": "x",
            "pid": None,
            "owner_pid": 2**22 + 4321,
        },
    )
    (job,) = list_jobs(store)
    assert job["status"] == "interrupted" and "stopped before it ran" in job["error"]


@pytest.mark.parametrize(
    ("url", "body", "needle"),
    [
        ("/api/sessions", {"mu": 1.5}, "mu"),
        ("/api/sessions", {"plasticity_overrides": {"chunk": 1}}, "chunk"),
        ("/api/sessions", {"plasticity_overrides": {"bogus": 1}}, "bogus"),
        ("/api/sessions/sess-a/run", {"steps": 5, "overrides": {"plasticity": {"lr": "x"}}}, "lr"),
        ("/api/sessions/sess-a/fork", {"overrides": {"env": {"mode": "weird"}}}, "mode"),
    ],
)
def test_bad_configs_are_422_before_any_job(client, url: str, body: dict, needle: str) -> None:
    before = client.get("/api/jobs").json()["total"]
    r = client.post(url, json=body)
    assert r.status_code == 422, r.text
    assert needle in str(r.json()["detail"])
    assert client.get("/api/jobs").json()["total"] == before
