"""``ttt nano``: bad values are refused with a message naming the field, before any write;
nested overrides merge deeply; a refused or failed run leaves the session where it was."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from ttt.cli.main import app
from ttt.nano import session as S
from ttt.nano.config import PlasticityConfig
from ttt.store import ArtifactStore

runner = CliRunner()


@pytest.fixture()
def root(tiny_base_root, tmp_path):
    r = tmp_path / "artifacts"
    shutil.copytree(tiny_base_root, r)
    return r


def ttt(root, *args: str):
    return runner.invoke(app, [*args, "--artifacts-root", str(root)], catch_exceptions=False)


def _new(root, *extra: str) -> str:
    res = ttt(root, "nano", "session", "new", "--id", "s", "--seed", "1", "--mu", "0.1", *extra)
    assert res.exit_code == 0, res.output
    return "s"


@pytest.mark.parametrize(
    ("sets", "needle"),
    [
        (["chunk=nan"], "plasticity.chunk must be an integer in [2, 4096], got 'nan'"),
        (["chunk=1e9"], "plasticity.chunk must be an integer"),
        (["holdout_every=2.5"], "plasticity.holdout_every"),
        (['nesterov="no"'], "plasticity.nesterov must be true or false, got 'no'"),
        (["steps_per_update=1000000000"], "plasticity.steps_per_update"),
        (['checks={"pre":[{"kind":"grad_norm_robust_z","z_max":"abc"}]}'], "z_max"),
        (
            ['checks={"pre":[{"kind":"grad_norm_robust_z","min_history":1000000000}]}'],
            "min_history",
        ),
        (['checks={"pre":[{"kind":"grad_norm_robust_z","z_max":-1}]}'], "z_max"),
        (['checks={"pre":[{"kind":"grad_norm_robust_z","abs_floor":0}]}'], "abs_floor"),
        (['checks={"pre":[{"kind":"grad_norm_median_multiple","k":-1}]}'], "k must be"),
        (['checks={"pre":[{"kind":"grad_norm_max","max_norm":-1}]}'], "max_norm"),
        (['checks={"post":[{"kind":"loss_regression","tol":-5}]}'], "tol"),
        (['checks={"post":[{"kind":"loss_regression","key":"no_such_signal"}]}'], "no_such_signal"),
    ],
)
def test_bad_values_are_refused_before_anything_is_written(root, sets, needle):
    args = [a for s in sets for a in ("--set", s)]
    res = ttt(root, "nano", "session", "new", "--id", "bad", *args)
    assert res.exit_code == 2, res.output
    assert needle in " ".join(res.output.split()), res.output
    assert ArtifactStore(root).list_ids("sessions") == []
    # The same values as run overrides leave an existing session untouched.
    sid = _new(root)
    res = ttt(root, "nano", "session", "run", sid, "--steps", "20", *args)
    assert res.exit_code == 2, res.output
    store = ArtifactStore(root)
    assert S.list_runs(store, sid) == []
    assert S.read_metrics(store, sid)["steps_total"] == 0


def test_huge_step_counts_are_refused_clearly(root):
    sid = _new(root)
    for cmd in (["nano", "session", "run", sid], ["nano", "sweep"]):
        res = ttt(root, *cmd, "--steps", "99999999999999999999")
        assert res.exit_code == 2, res.output
        assert "must be an integer in [1, 10_000_000]" in " ".join(res.output.split())
    assert ArtifactStore(root).list_ids("sweeps") == []


def test_overriding_the_pre_checks_keeps_the_default_post_checks(root):
    pre = '{"pre":[{"kind":"grad_norm_max","max_norm":50}]}'
    sid = _new(root, "--set", f"checks={pre}")
    checks = S.read_meta(ArtifactStore(root), sid)["plasticity_cfg"]["checks"]
    assert [c["kind"] for c in checks["pre"]] == ["grad_norm_max"]
    assert checks["post"] == PlasticityConfig().checks_config().to_dict()["post"]
    # Same with a safety option on top (the canary check is added to the defaults).
    res = ttt(
        root, "nano", "session", "new", "--id", "c", "--set", f"checks={pre}", "--canary-z", "6"
    )
    assert res.exit_code == 0, res.output
    post = S.read_meta(ArtifactStore(root), "c")["plasticity_cfg"]["checks"]["post"]
    assert [c["kind"] for c in post] == ["loss_regression", "state_norm_max", "canary_robust_z"]
    # And for one run's overrides: the run's effective config keeps the session's post-checks.
    res = ttt(
        root, "nano", "session", "run", sid, "--steps", "16", "--set", f"checks={pre}", "--json"
    )
    assert res.exit_code == 0, res.output
    run = S.list_runs(ArtifactStore(root), sid)[0]
    assert len(run["plasticity_cfg"]["checks"]["post"]) == 2


def test_threads_option_is_checked(root):
    sid = _new(root)
    res = ttt(root, "nano", "session", "run", sid, "--steps", "5", "--threads", "0")
    assert res.exit_code == 2 and "--threads" in res.output
    res = ttt(root, "nano", "session", "run", sid, "--steps", "5", "--threads", "1", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["status"] == "completed"
