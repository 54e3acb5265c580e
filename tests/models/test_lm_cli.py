"""``ttt lm``: every command on a tiny budget (CliRunner, real code, real files)."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from ttt.cli.main import app

runner = CliRunner()


def invoke(*args: str, ok: bool = True):
    res = runner.invoke(app, list(args), catch_exceptions=False)
    if ok:
        assert res.exit_code == 0, res.output
    return res


def flat(res) -> str:
    """Output without the line breaks rich inserts at the terminal width."""
    return res.output.replace("\n", "")


def test_help_on_every_lm_command():
    for cmd in ([], ["train"], ["generate"], ["eval"], ["list"], ["promote"], ["reject"]):
        res = runner.invoke(app, ["lm", *cmd, "--help"])
        assert res.exit_code == 0, (cmd, res.output)
        assert "Usage" in res.output
    # Every option of every command has help text.
    import typer.main

    group = typer.main.get_group(app)
    lm = group.commands["lm"]
    for name, cmd in lm.commands.items():  # type: ignore[attr-defined]
        assert cmd.help, name
        for param in cmd.params:
            if param.param_type_name == "option":
                assert param.help, f"lm {name} {param.name}"


def test_train_generate_eval_list_promote_reject(tmp_path, tiny_corpus):
    r = ["--artifacts-root", str(tmp_path / "a")]
    out = invoke(
        "lm", "train", "--corpus", str(tiny_corpus), "--preset", "tiny", "--steps", "8",
        "--set", "eval_every=4", "--id", "cli-lm", "--threads", "1", *r,
    ).output  # fmt: skip
    assert out.strip().splitlines()[-1] == "cli-lm"
    meta = json.loads(
        invoke(
            "lm", "train", "-c", str(tiny_corpus), "--preset", "tiny", "--steps", "4",
            "--backbone", "gru", "--id", "cli-gru", "--no-promote", "--json", *r,
        ).output
    )  # fmt: skip
    assert meta["status"] == "completed" and meta["promoted"] is False
    assert meta["model_cfg"]["backbone"] == "gru" and meta["train_cfg"]["steps"] == 4

    listing = json.loads(invoke("lm", "list", "--json", *r).output)
    assert listing["default"] == "cli-lm"
    assert [m["model_id"] for m in listing["models"]] == ["cli-lm", "cli-gru"]
    assert "cli-gru" in invoke("lm", "list", *r).output

    gen = json.loads(
        invoke("lm", "generate", "the cat", "-n", "12", "--seed", "1", "--json", *r).output
    )
    assert gen["model_id"] == "cli-lm" and len(gen["token_ids"]) <= 12
    again = json.loads(
        invoke("lm", "generate", "the cat", "-n", "12", "--seed", "1", "--json", *r).output
    )
    assert again["text"] == gen["text"]
    plain = invoke("lm", "generate", "the cat", "-n", "5", "--temperature", "0", *r).output
    assert plain.startswith("the cat")

    report = json.loads(invoke("lm", "eval", "--json", "--windows", "4", *r).output)
    assert report["model_id"] == "cli-lm" and report["val_ppl"] > 1
    assert "perplexity" in invoke("lm", "eval", "-m", "cli-gru", *r).output

    invoke("lm", "promote", "cli-gru", *r)
    assert json.loads(invoke("lm", "list", "--json", *r).output)["default"] == "cli-gru"
    invoke("lm", "reject", "cli-gru", *r)
    assert json.loads(invoke("lm", "list", "--json", *r).output)["default"] == "cli-lm"


def test_clear_errors(tmp_path, tiny_corpus, tiny_lm_root):
    root = tmp_path / "a"
    shutil.copytree(tiny_lm_root, root)
    r = ["--artifacts-root", str(root)]
    res = invoke("lm", "generate", "x", "--model", "nope", *r, ok=False)
    assert res.exit_code == 1 and "nope" in flat(res) and "not found" in flat(res)
    res = invoke("lm", "eval", "--model", "../etc", *r, ok=False)
    assert res.exit_code != 0 and "invalid" in flat(res)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\n")
    res = invoke("lm", "train", "-c", str(bad), "--preset", "tiny", *r, ok=False)
    assert res.exit_code == 2 and "bad.txt: not UTF-8" in flat(res)
    res = invoke(
        "lm", "train", "-c", str(tiny_corpus), "-c", str(bad), "--preset", "tiny",
        "--steps", "2", "--skip-bad-files", "--id", "skipper", *r,
    )  # fmt: skip
    assert "skipped" in flat(res) and "bad.txt" in flat(res)
    res = invoke("lm", "train", "--preset", "huge", *r, ok=False)
    assert res.exit_code == 2 and "unknown preset" in flat(res)
    res = invoke("lm", "promote", "nope", *r, ok=False)
    assert res.exit_code == 1 and "nope" in flat(res)
    res = invoke("lm", "train", "--resume", "tiny-lm", *r, ok=False)
    assert "completed" in flat(res)
    # NaN in a checkpoint: the error names the file and the tensor.
    from ttt.store import read_tensors, write_tensors

    path = root / "text_models" / "tiny-lm" / "model.safetensors"
    w = read_tensors(path)
    w["embed.weight"][3] = float("nan")
    write_tensors(path, w)
    res = invoke("lm", "generate", "x", "-m", "tiny-lm", *r, ok=False)
    assert res.exit_code == 1 and "model.safetensors" in flat(res) and "NaN" in flat(res)
