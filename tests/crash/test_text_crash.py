"""Text domains under SIGKILL: a chat turn, a Sentry run, TinyLm training and a sleep killed
at seeded points (``harness.py``, invariants in ``text_cases.py``).

The default suite kills each operation at a few points; ``-m slow`` at 50+ per operation:

    .venv/bin/python -m pytest tests/crash/test_text_crash.py -m slow -q
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from harness import CrashCase, assert_clean, count_ops, op_points, run_campaign, time_points
from text_cases import chat_case, sentry_case, sleep_case, train_case

SEED = 21
FACTORIES = {"chat": chat_case, "sentry": sentry_case, "train": train_case, "sleep": sleep_case}
# A few op points per operation in the default suite, below a lower bound of its count.
FEW = {"chat": (2, 20), "sentry": (2, 12), "train": (2, 20), "sleep": (2, 20)}


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory):
    made: dict[str, tuple[CrashCase, Path, dict]] = {}

    def get(factory):
        case = factory()
        if case.name not in made:
            root = tmp_path_factory.mktemp(f"tpl-{case.name}") / "artifacts"
            ctx = case.prepare(root)
            ctx["template"] = str(root)
            made[case.name] = (case, root, ctx)
        return made[case.name]

    return get


@pytest.mark.parametrize("name", list(FACTORIES))
def test_kill_at_a_few_points(templates, name, tmp_path):
    case, tpl, ctx = templates(FACTORIES[name])
    n, bound = FEW[name]
    report = run_campaign(case, tpl, ctx, op_points(SEED, n, bound), seed=SEED, workdir=tmp_path)
    assert_clean(report)
    assert report.killed >= 1, "no kill landed"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FACTORIES))
def test_kill_at_fifty_points(templates, name, tmp_path):
    """40 op points spread over every durable operation, 12+ timed kills."""
    case, tpl, ctx = templates(FACTORIES[name])
    total, seconds = count_ops(case, tpl, ctx)
    seed = SEED + 1
    ops = op_points(seed, 40, total)
    points = ops + time_points(seed, max(12, 52 - len(ops)), max(0.2, seconds - 2.0))
    report = run_campaign(case, tpl, ctx, points, seed=seed, workdir=tmp_path)
    assert_clean(report)
    assert report.points >= 50 and report.killed >= 30, report.as_dict()
    shutil.rmtree(tmp_path, ignore_errors=True)
