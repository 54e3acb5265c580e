"""Every CLI command runs on a tiny budget (typer's CliRunner, real code, real files)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ttt.cli.main import app
from ttt.store import ArtifactStore
from ttt.text.sleep import read_manifest

runner = CliRunner()


def invoke(*args: str, ok: bool = True):
    res = runner.invoke(app, list(args), catch_exceptions=False)
    if ok:
        assert res.exit_code == 0, res.output
    return res


def test_help_on_every_command():
    for args in (
        [],
        ["nano"],
        ["nano", "session"],
        ["bench"],
        ["nano", "pretrain"],
        ["nano", "sweep"],
        ["nano", "session", "new"],
        ["nano", "session", "run"],
        ["nano", "session", "fork"],
        ["nano", "session", "list"],
        ["nano", "session", "show"],
        ["bench", "nano"],
        ["demo"],
    ):
        res = runner.invoke(app, [*args, "--help"])
        assert res.exit_code == 0, (args, res.output)
        assert "Usage" in res.output


def test_version():
    assert "ttt 0." in invoke("--version").output


def test_nano_commands_end_to_end(tmp_path, tiny_base_root):
    import shutil

    root = tmp_path / "a"
    shutil.copytree(tiny_base_root, root)
    r = ["--artifacts-root", str(root)]
    out = invoke("nano", "pretrain", "--preset", "tiny", "--base-id", "b2", *r).output
    assert out.strip().splitlines()[-1] == "b2"
    # A base is never overwritten.
    res = invoke("nano", "pretrain", "--preset", "tiny", "--base-id", "b2", *r, ok=False)
    assert res.exit_code != 0 and "already exists" in res.output
    sid = invoke(
        "nano",
        "session",
        "new",
        "--mu",
        "0.1",
        "--seed",
        "3",
        "--env-mode",
        "nonlinear",
        "--id",
        "cli-s",
        *r,
    ).output.strip()
    assert sid == "cli-s"
    res = invoke("nano", "session", "run", sid, "--steps", "64", "--json", *r)
    summary = json.loads(res.output)
    assert summary["steps"] == 64 and summary["run_id"]
    invoke("nano", "session", "run", sid, "--steps", "32", "--set", "lr=0.01", "-q", *r)
    fork = invoke(
        "nano",
        "session",
        "fork",
        sid,
        "--from-update",
        "1",
        "--no-momentum",
        "--new-id",
        "cli-fork",
        *r,
    ).output.strip()
    assert fork == "cli-fork"
    listing = json.loads(invoke("nano", "session", "list", "--json", *r).output)
    assert {s["session_id"] for s in listing["items"]} == {"cli-s", "cli-fork"}
    assert "cli-fork" in invoke("nano", "session", "list", *r).output
    shown = json.loads(invoke("nano", "session", "show", "cli-fork", "--json", *r).output)
    assert shown["meta"]["parent"]["session_id"] == "cli-s"
    assert "resume" in invoke("nano", "session", "show", "cli-s", *r).output
    sweep = json.loads(
        invoke(
            "nano",
            "sweep",
            "--sessions",
            "2",
            "--steps",
            "48",
            "--env-modes",
            "linear,nonlinear",
            "--json",
            "--out",
            str(tmp_path / "t.csv"),
            *r,
        ).output
    )
    assert len(sweep["rows"]) == 4
    assert (tmp_path / "t.csv").read_text().startswith("session_index,")


def test_cli_errors_are_clear(tmp_path, tiny_base_root):
    r = ["--artifacts-root", str(tiny_base_root)]
    res = invoke("nano", "session", "run", "../../etc", "--steps", "5", *r, ok=False)
    assert res.exit_code != 0 and "invalid" in res.output.lower()
    res = invoke("nano", "session", "show", "missing", *r, ok=False)
    assert res.exit_code != 0 and "not found" in res.output
    res = invoke("nano", "session", "new", "--set", "nonsense=1", *r, ok=False)
    assert res.exit_code == 2 and "nonsense" in res.output
    empty = ["--artifacts-root", str(tmp_path / "empty")]
    res = invoke("nano", "session", "new", *empty, ok=False)
    assert "ttt nano pretrain" in res.output


def test_demo_quick_and_if_empty(tmp_path):
    r = ["--artifacts-root", str(tmp_path / "demo")]
    invoke("demo", "--quick", *r)
    listing = json.loads(invoke("nano", "session", "list", "--json", *r).output)
    ids = {s["session_id"] for s in listing["items"]}
    assert {"demo-linear", "demo-nonlinear", "demo-linear-fork"} <= ids
    fork = next(s for s in listing["items"] if s["session_id"] == "demo-linear-fork")
    assert fork["parent"]["session_id"] == "demo-linear"
    models = json.loads(invoke("lm", "list", "--json", *r).output)
    assert models["default"] == "demo-lm"
    lm = next(m for m in models["models"] if m["model_id"] == "demo-lm")
    assert lm["status"] == "completed" and lm["promoted"]
    # The chat session: its override turn was blocked and learned nothing.
    chat = json.loads(invoke("chat", "show", "demo-chat", "--json", *r).output)
    blocked = [t for t in chat["trace"] if t["blocked"]]
    assert len(blocked) == 1 and "Ignore all previous" in blocked[0]["prompt"]
    # The sleep candidate: consolidated from that session, the blocked turn rejected, and
    # not the default until promoted.
    cand = next(m for m in models["models"] if m["model_id"] == "demo-sleep")
    assert cand["status"] == "sleep_candidate" and not cand["promoted"]
    manifest = read_manifest(ArtifactStore(tmp_path / "demo"), "demo-sleep")
    decisions = {m["turn"]: m["decision"] for m in manifest["memories"]}
    assert decisions[blocked[0]["turn"]] == "rejected"
    assert manifest["counts"]["approved"] >= 1
    # The saved memory benchmark on the TinyLm (the Benchmarks page is not empty).
    from ttt.text.bench_results import read_result

    bench = read_result(ArtifactStore(tmp_path / "demo"), "demo-memory")
    assert bench["kind"] == "memory" and {r["model"] for r in bench["rows"]} == {"demo-lm"}
    assert {(r["n_facts"], r["condition"]) for r in bench["rows"]} == {
        (n, c) for n in (1, 2) for c in ("fast_weights", "no_update", "in_context")
    }
    assert bench["argv"][:3] == ["ttt", "bench", "memory"] and "demo-lm" in bench["argv"]
    assert "skipped" in invoke("demo", "--if-empty", *r).output
    res = invoke("demo", *r, ok=False)
    assert res.exit_code != 0


def test_bench_poison_refuses_a_seed_of_the_other_split_before_loading(tmp_path):
    root = str(tmp_path / "empty")
    res = invoke("bench", "poison", "--first-seed", "100", "--artifacts-root", root, ok=False)
    assert res.exit_code != 0 and "belong to the 'tune' split, not 'report'" in res.output
    res = invoke("bench", "poison", "--split", "tune", "--seeds", "3", "--first-seed", "198",
                 "--artifacts-root", root, ok=False)  # fmt: skip
    assert res.exit_code != 0 and "seeds [200]" in res.output
    res = invoke("bench", "poison", "--set", "lr=-1", "--artifacts-root", root, ok=False)
    assert res.exit_code != 0 and "SentryConfig.lr" in res.output
    assert not (tmp_path / "empty").exists()  # nothing was trained or written


def test_bench_nano_quick_prints_json():
    rows = json.loads(invoke("bench", "nano", "--quick", "--json").output)
    assert {"setting", "median_gain", "win_rate", "worst_gain", "ms_per_step"} <= set(rows[0])
