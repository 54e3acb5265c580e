"""Nano under SIGKILL: a run, a fork and a sweep killed at seeded points (``harness.py``).

The default suite kills each operation at a few points; ``-m slow`` at 50+ per operation:

    .venv/bin/python -m pytest tests/crash -m slow -q   # TTT_CRASH_REPORT=r.jsonl for figures
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from harness import (
    CrashCase,
    assert_clean,
    count_ops,
    op_points,
    run_campaign,
    time_points,
)
from nano_cases import fork_case, run_case, sweep_case

SEED = 18


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory):
    """One prepared artifact root per case (copied for every kill point)."""
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


def _campaign(templates, factory, tmp_path, points, *, seed: int):
    case, tpl, ctx = templates(factory)
    report = run_campaign(case, tpl, ctx, points, seed=seed, workdir=tmp_path)
    assert_clean(report)
    assert report.points == len(points)
    return report


# A few kill points per operation in the default suite, drawn below a lower bound of each
# operation's durable-operation count (so no counting run is needed).
FEW = {"run": (2, 300), "fork": (1, 25), "sweep": (1, 6)}
FACTORIES = {"run": run_case, "fork": fork_case, "sweep": sweep_case}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_kill_at_a_few_points(templates, name, tmp_path):
    n, bound = FEW[name]
    report = _campaign(templates, FACTORIES[name], tmp_path, op_points(SEED, n, bound), seed=SEED)
    assert report.killed >= 1, "no kill landed"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FACTORIES))
def test_kill_at_fifty_points(templates, name, tmp_path):
    """40 kill points spread over every durable operation of the operation, 12 timed kills."""
    case, tpl, ctx = templates(FACTORIES[name])
    total, seconds = count_ops(case, tpl, ctx)
    seed = SEED + 1
    ops = op_points(seed, 40, total)  # every operation when there are fewer
    points = ops + time_points(seed, max(12, 52 - len(ops)), max(0.2, seconds - 2.5))
    report = _campaign(templates, FACTORIES[name], tmp_path, points, seed=seed)
    assert report.points >= 50 and report.killed >= 30, report.as_dict()
    shutil.rmtree(tmp_path, ignore_errors=True)
