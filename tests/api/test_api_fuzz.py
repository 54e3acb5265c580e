"""API fuzzing with schemathesis: every operation of the OpenAPI document, with data that fits
the schema and data that does not, against a real server (uvicorn on a loopback port) over
a tiny artifact root made by the real code, with every check schemathesis has:

* no 5xx; every status code, content type and header documented, every body (JSON and the
  Server-Sent Events streams, event by event) matching its schema;
* requests that violate the schema refused with 4xx (strict JSON types: no booleans or
  strings for numbers), requests that fit it accepted (see ``DOMAIN_422`` for the exceptions);
* a job is only accepted (202) when it can run: every accepted job is cancelled at once (so
  the fuzzer's hundreds of requests do not queue hours of work), and the slow
  ``test_accepted_jobs_run`` re-runs a sample of them for real and requires that none fails.

The default suite runs a bounded fuzzing phase; ``-m slow`` runs the deep one (coverage phase
plus many more examples). Reproduce a failure with the seed printed by hypothesis.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apitools import make_settings

from ttt.api.app import create_app

# Operations whose bodies carry domain configs (SentryConfig, RedTeamConfig, SleepConfig,
# plasticity/env overrides) or paths: their value ranges live in the configs' __post_init__
# (and the paths on disk), not in the schema, so schema-valid data may get 422 naming the
# field (or 403/404 for a path). Everything else must accept what its schema accepts.
DOMAIN_422 = [
    r"^/api/sessions$",
    r"^/api/sessions/\{session_id\}/(run|fork|ghost)$",
    r"^/api/sweeps$",
    r"^/api/chat/sessions$",
    r"^/api/chat/sessions/\{session_id\}/safety$",
    r"^/api/text_runs$",
    r"^/api/redteam$",
    r"^/api/sleep$",
    r"^/api/text_models/train$",
]
HOOKS = Path(__file__).parent / "fuzz" / "hooks.py"
# Ids of the fuzz root's items that the fuzzer cannot learn from a listing: the hooks put
# them into the valid (positive) path parameters of these operations (regex of the path,
# methods); invalid ones are still fuzzed.
KNOWN_IDS = [
    (r"^/api/chat/sessions/\{session_id\}/", "GET|POST|PATCH", "session_id", "chat-a"),
    (r"^/api/text_runs/\{run_id\}", "GET", "run_id", "sentry-a"),
    (r"^/api/redteam/\{run_id\}", "GET", "run_id", "redteam-a"),
    (r"^/api/benchmarks/\{result_id\}", "GET", "result_id", "bench-a"),
]


def fuzz_toml(*, max_examples: int, coverage: bool, seed: int = 1) -> str:
    """schemathesis.toml of a run: every check (their defaults), bounded examples."""
    lines = [
        f"seed = {seed}",
        "workers = 1",
        "request-timeout = 30",
        "[phases.examples]",
        "enabled = true",
        "[phases.coverage]",
        f"enabled = {str(coverage).lower()}",
        "[phases.fuzzing]",
        "enabled = true",
        "[phases.stateful]",
        "enabled = false",
        "[generation]",
        f"max-examples = {max_examples}",
        'mode = "all"',
        'database = "none"',
    ]
    for pattern in DOMAIN_422:
        lines += [
            "[[operations]]",
            f"include-path-regex = '{pattern}'",
            "checks.positive_data_acceptance.expected-statuses = "
            '["2xx", "3xx", "401", "403", "404", "409", "422", "429"]',
        ]
    return "\n".join(lines) + "\n"


def run_schemathesis(
    server: LiveServer, tmp: Path, *, max_examples: int, coverage: bool, cancel_jobs: bool
) -> dict[str, Any]:
    """``schemathesis run`` (a subprocess) against ``server``; the JSON report's figures. The
    test fails with schemathesis's own output when it finds anything."""
    config = tmp / "schemathesis.toml"
    config.write_text(fuzz_toml(max_examples=max_examples, coverage=coverage))
    report = tmp / "report.json"
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "TTT_FUZZ_URL": server.url,
        "TTT_FUZZ_CANCEL": "1" if cancel_jobs else "0",
        "TTT_FUZZ_KNOWN_IDS": json.dumps(KNOWN_IDS),
    }
    cmd = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{server.url}/api/openapi.json",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-20000:] + proc.stderr[-5000:]
    return dict(json.loads(report.read_text()))


class LiveServer:
    """``ttt``'s app in uvicorn on a free loopback port, in a thread of this process."""

    def __init__(self, root: Path, **settings: Any) -> None:
        import uvicorn

        app = create_app(make_settings(root, max_jobs=1, job_cancel_grace_s=1.0, **settings))
        self.app = app
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, name="fuzz-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the fuzz server did not start")
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)


def make_fuzz_root(dest: Path, tiny_base_root: Path, tiny_lm_root: Path) -> Path:
    """A Nano base, a session with a run and a fork, a sweep, a promoted text model, a chat
    session with one turn, a Sentry run, a red-team run and a saved memory benchmark: one
    item of every kind, so that ids the fuzzer learns from listings lead somewhere."""
    from ttt.models.registry import load_model
    from ttt.nano.session import create_session, fork_session, run_session
    from ttt.nano.sweep import run_sweep
    from ttt.redteam.config import RedTeamConfig
    from ttt.redteam.runs import run_redteam
    from ttt.store import ArtifactStore
    from ttt.text import chat
    from ttt.text.bench_results import save_result
    from ttt.text.memory import MemoryBenchConfig, bench_memory
    from ttt.text.sentry import run_sentry
    from ttt.text.write import WriteConfig

    root = dest / "artifacts"
    shutil.copytree(tiny_base_root, root)
    shutil.copytree(tiny_lm_root, root, dirs_exist_ok=True)
    store = ArtifactStore(root)
    create_session(store, session_id="sess-a", mu=0.1, seed=1)
    run_session(store, "sess-a", steps=96, run_id="run-a1")
    fork_session(store, "sess-a", from_update=1, new_session_id="sess-a-fork")
    run_sweep(store, n_sessions=2, steps=48, sweep_id="sweep-1")
    chat.create_session(store, model_id="tiny-lm", session_id="chat-a")
    run_sentry(store, text="the cat sat on a mat. " * 40, model_id="tiny-lm", run_id="sentry-a")
    cfg = RedTeamConfig(budget=4, population=2)
    run_redteam(store, cfg, model_id="tiny-lm", run_id="redteam-a")
    lm = load_model(store, "tiny-lm")
    bcfg = MemoryBenchConfig(n_facts=(1,), seeds=(0,), max_tokens=4, ppl_windows=1)
    rows = bench_memory(lm, chat.chat_config(), WriteConfig(), bcfg)
    save_result(store, "bench-a", "memory", rows, config={"n_facts": [1]}, argv=["ttt"])
    return root


@pytest.fixture(scope="module")
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_base_root: Path, tiny_lm_root: Path
) -> Iterator[LiveServer]:
    root = make_fuzz_root(tmp_path_factory.mktemp("fuzz"), tiny_base_root, tiny_lm_root)
    with LiveServer(root) as server:
        yield server


def test_api_fuzz(fuzz_server: LiveServer, tmp_path: Path) -> None:
    """Bounded: the examples and fuzzing phases, a few examples per operation; every accepted
    job is cancelled at once."""
    summary = run_schemathesis(
        fuzz_server, tmp_path, max_examples=6, coverage=False, cancel_jobs=True
    )
    print(json.dumps(summary_figures(summary)))


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_api_fuzz_deep(fuzz_server: LiveServer, tmp_path: Path) -> None:
    """Deep: the coverage phase too and many more examples (accepted jobs cancelled at once;
    ``test_accepted_jobs_run`` runs a sample of them)."""
    summary = run_schemathesis(
        fuzz_server, tmp_path, max_examples=50, coverage=True, cancel_jobs=True
    )
    print(json.dumps(summary_figures(summary)))


def summary_figures(report: dict[str, Any]) -> dict[str, Any]:
    """The run's figures (printed with -s): test cases, failures, seconds."""
    cases = report["test_cases"]
    assert cases["generated"] > 0 and report["complete"], report["stop_reason"]
    return {"test_cases": cases, "seconds": round(report["running_time"], 1)}


# Failures of accepted jobs that are bugs of the domain, not of the API's validation; each
# names where it is fixed. Anything else that fails is a finding.
KNOWN_DOMAIN_FAILURES = {
    # ttt.nano.sweep writes gain = NaN for runs shorter than ~47 steps (issue 18 closing
    # note; owned by the Nano work): delete this entry once sweep.py stores None for it.
    "cannot write nan at key 'rows[0].gain'": "run_sweep",
}


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_accepted_jobs_run(fuzz_server: LiveServer, tmp_path: Path) -> None:
    """Every kind of job the fuzzer got accepted (202), up to 4 distinct requests of each,
    re-run for real over a copy of the root as the fuzzer left it (the id the job would
    create replaced by a fresh one): none may fail, since a request that cannot succeed
    must have been refused before its job. A job still running after 30 s is cancelled,
    which is not a failure."""
    from ttt.jobs import JobManager

    fuzzed = Path(fuzz_server.app.state.ctx.store.root)
    picked: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((fuzzed / "jobs").glob("*/job.json")):
        job = json.loads(path.read_text())
        if job["kind"] == "sentry_run":
            continue  # its text was spooled and is gone; test_api_text_runs runs real ones
        params = {k: v for k, v in job["params"].items() if k != "spool"}
        claimed = (job.get("claim") or [None, None])[1]
        params = {k: ("replayed-id" if v == claimed else v) for k, v in params.items()}
        same = picked.setdefault(job["kind"], [])
        if params not in same and len(same) < 4:
            same.append(params)
    assert picked, "the fuzzer got no job accepted"
    failed = []
    for kind, variants in sorted(picked.items()):
        for i, params in enumerate(variants):
            root = tmp_path / f"{kind}-{i}"
            shutil.copytree(fuzzed, root, ignore=shutil.ignore_patterns("jobs", ".locks"))
            manager = JobManager(root, max_workers=1, grace_s=2.0)
            try:
                jid = manager.submit(kind, params)["job_id"]
                deadline = time.monotonic() + 30
                while manager.get(jid)["status"] in ("queued", "running"):
                    if time.monotonic() > deadline:
                        manager.cancel(jid)
                        deadline = time.monotonic() + 30
                    time.sleep(0.2)
                final = manager.get(jid)
            finally:
                manager.close(cancel_running=True, timeout_s=5)
            error = str(final.get("error"))
            known = any(k in error and v == kind for k, v in KNOWN_DOMAIN_FAILURES.items())
            if final["status"] == "failed" and not known:
                failed.append((kind, params, error))
    assert not failed, "\n".join(map(repr, failed))
