"""Crash harness: SIGKILL a real ``ttt`` process at seeded points, then check invariants.

The harness is generic; a domain plugs in a ``CrashCase`` (see ``nano_cases.py``):

* ``prepare(root)``: fill a fresh artifact root with whatever the operation starts from
  (done once per case into a template, then copied for every kill point) and return a
  context dict;
* ``argv(ctx)``: the ``ttt`` command line of the operation under test;
* ``check(root, ctx, outcome)``: the invariants that must hold after the kill (raise
  ``AssertionError``); typically "the store opens, ``show`` works, nothing committed is lost
  or torn, the next operation continues from the last commit, no lock blocks later work".

Two kinds of kill point, both seeded:

* ``KillPoint.op(n)``: the process dies right before its n-th durable file operation
  (``inject.py``; deterministic: the same n always dies at the same place). ``count_ops``
  runs the operation once to learn how many operations it has, and ``op_points`` draws n
  from 1..total;
* ``KillPoint.at(seconds)``: ``SIGKILL`` from outside after a delay counted from when the
  process shows ``ready(root)`` (e.g. its run folder appeared), the way a user's ``kill -9``
  lands.

``run_campaign(case, points)`` copies the template for each point, starts the process
(``python -c BOOT ttt-args...``: the real CLI entry point, with the fault injector loaded),
kills it, runs ``check`` and collects failures with everything needed to reproduce them
(case, point, seed). ``CampaignReport.as_dict()`` gives the figures (operations x kill
points, failures); set ``TTT_CRASH_REPORT=/path.jsonl`` to append every report there.

To add an operation (a chat turn, a Sentry run, TinyLm training, a sleep): write its
``prepare`` / ``argv`` / ``check`` in a ``<domain>_cases.py`` next to this file, and a test
module that calls ``run_campaign`` with a few points in the default suite and ~50 points
under ``@pytest.mark.slow`` (see ``test_nano_crash.py``).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BOOT = (
    "import os, sys\n"
    "sys.path.insert(0, os.environ['TTT_CRASH_TESTS_DIR'])\n"
    "import inject\n"
    "inject.install_from_env()\n"
    "from ttt.cli.main import app\n"
    "app(sys.argv[1:], prog_name='ttt')\n"
)


@dataclass(frozen=True)
class KillPoint:
    """Where to kill: before durable operation ``n`` (``kind="op"``) or ``seconds`` after the
    process is ready (``kind="time"``)."""

    kind: str
    n: int = 0
    seconds: float = 0.0

    @classmethod
    def op(cls, n: int) -> KillPoint:
        return cls("op", n=n)

    @classmethod
    def at(cls, seconds: float) -> KillPoint:
        return cls("time", seconds=seconds)

    def label(self) -> str:
        return f"op#{self.n}" if self.kind == "op" else f"t+{self.seconds:.3f}s"


@dataclass
class Outcome:
    """What happened to the process."""

    point: KillPoint
    killed: bool  # died by SIGKILL (False: finished before the kill point)
    returncode: int
    seconds: float
    stdout: str
    stderr: str


@dataclass
class CrashCase:
    name: str
    prepare: Callable[[Path], dict[str, Any]]
    argv: Callable[[dict[str, Any]], list[str]]
    check: Callable[[Path, dict[str, Any], Outcome], None]
    # For time kills: True once the operation is under way (default: right after start).
    ready: Callable[[Path, dict[str, Any]], bool] | None = None
    timeout: float = 180.0


@dataclass
class CampaignReport:
    case: str
    points: int = 0
    killed: int = 0
    finished: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _env(root: Path, point: KillPoint | None, count_file: Path | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TTT_CRASH_TESTS_DIR": str(HERE)}
    env["ARTIFACTS_ROOT"] = str(root)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("HF_HUB_OFFLINE", "1")
    for k in ("TTT_CRASH_AT_OP", "TTT_CRASH_COUNT_FILE"):
        env.pop(k, None)
    if point is not None and point.kind == "op":
        env["TTT_CRASH_AT_OP"] = str(point.n)
    if count_file is not None:
        env["TTT_CRASH_COUNT_FILE"] = str(count_file)
    return env


def _start(argv: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", BOOT, *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def run_once(case: CrashCase, root: Path, ctx: dict[str, Any], point: KillPoint | None) -> Outcome:
    """Start the operation in ``root`` and kill it at ``point`` (None: let it finish)."""
    t0 = time.monotonic()
    proc = _start(case.argv(ctx), _env(root, point, None))
    try:
        if point is not None and point.kind == "time":
            deadline = t0 + case.timeout
            while case.ready is not None and not case.ready(root, ctx):
                if proc.poll() is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            time.sleep(point.seconds)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=case.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"{case.name}: process did not finish in {case.timeout}s") from None
    rc = proc.returncode
    return Outcome(
        point=point or KillPoint.op(0),
        killed=rc == -signal.SIGKILL,
        returncode=rc,
        seconds=time.monotonic() - t0,
        stdout=out.decode(errors="replace"),
        stderr=err.decode(errors="replace"),
    )


def count_ops(case: CrashCase, template: Path, ctx: dict[str, Any]) -> tuple[int, float]:
    """(durable operations, seconds) of one uninterrupted run of the operation."""
    with tempfile.TemporaryDirectory(prefix="ttt-crash-count-") as tmp:
        root = Path(tmp) / "artifacts"
        shutil.copytree(template, root, symlinks=True)
        count_file = Path(tmp) / "count"
        t0 = time.monotonic()
        proc = _start(case.argv(ctx), _env(root, None, count_file))
        out, err = proc.communicate(timeout=case.timeout)
        if proc.returncode != 0:
            raise AssertionError(
                f"{case.name}: the uninterrupted operation failed ({proc.returncode}):\n"
                f"{err.decode(errors='replace')[-2000:]}"
            )
        return int(count_file.read_text()), time.monotonic() - t0


def op_points(seed: int, n: int, total: int) -> list[KillPoint]:
    """``n`` distinct operation indices in 1..total, seeded (all of them when n >= total)."""
    rng = random.Random(seed)
    picks = sorted(rng.sample(range(1, total + 1), min(n, total)))
    return [KillPoint.op(k) for k in picks]


def time_points(seed: int, n: int, span: float) -> list[KillPoint]:
    """``n`` delays uniform in [0, span) seconds, seeded."""
    rng = random.Random(seed)
    return [KillPoint.at(round(rng.uniform(0.0, span), 3)) for _ in range(n)]


def run_campaign(
    case: CrashCase,
    template: Path,
    ctx: dict[str, Any],
    points: Sequence[KillPoint],
    *,
    seed: int,
    workdir: Path,
) -> CampaignReport:
    """Kill the operation at every point (each on a fresh copy of ``template``) and check."""
    report = CampaignReport(case=case.name)
    t0 = time.monotonic()
    for i, point in enumerate(points):
        root = workdir / f"{case.name}-{i:03d}" / "artifacts"
        shutil.copytree(template, root, symlinks=True)
        outcome: Outcome | None = None
        try:
            outcome = run_once(case, root, ctx, point)
            if outcome.killed:
                report.killed += 1
            elif outcome.returncode == 0:
                report.finished += 1
            else:
                raise AssertionError(
                    f"exited {outcome.returncode} without being killed:\n{outcome.stderr[-2000:]}"
                )
            case.check(root, ctx, outcome)
        except Exception as exc:
            report.failures.append(
                {
                    "case": case.name,
                    "seed": seed,
                    "point": point.label(),
                    "root": str(root),
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(limit=6),
                }
            )
        else:
            shutil.rmtree(root.parent, ignore_errors=True)
        report.points += 1
    report.seconds = round(time.monotonic() - t0, 1)
    out = os.environ.get("TTT_CRASH_REPORT")
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({**report.as_dict(), "failures": len(report.failures)}) + "\n")
    return report


def assert_clean(report: CampaignReport) -> None:
    """Fail with every failure's point and error (reproduce with the same seed and point)."""
    if report.failures:
        lines = [f"{f['point']}: {f['error']}\n{f['traceback']}" for f in report.failures[:5]]
        raise AssertionError(
            f"{report.case}: {len(report.failures)}/{report.points} kill points broke an "
            "invariant:\n" + "\n".join(lines)
        )
