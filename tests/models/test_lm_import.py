"""``ttt lm import`` on a tiny HF folder made by our code: the model is registered by source
and sha256 (no weights copied), chat runs on it through the CLI, and bad sources are clear
errors that create nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from ttt.cli.main import app
from ttt.models import registry
from ttt.store import ArtifactStore

runner = CliRunner()


def _import(root: Path, *args: str) -> object:
    return runner.invoke(
        app, ["lm", "import", *args, "--reference-windows", "0", "--artifacts-root", str(root)]
    )


def test_import_a_folder_then_chat_on_it(tiny_hf_folder: Path, tmp_path: Path) -> None:
    root = tmp_path / "art"
    r = _import(root, "--folder", str(tiny_hf_folder), "--id", "tiny-hf", "--rank", "2")
    assert r.exit_code == 0, r.output
    store = ArtifactStore(root)
    meta = registry.read_meta(store, "tiny-hf")
    assert meta["backend"] == "hf" and meta["source"]["kind"] == "folder"
    assert meta["lora"]["rank"] == 2 and len(meta["weights_sha256"]) == 64
    assert sorted(p.name for p in registry.model_dir(store, "tiny-hf").iterdir()) == ["meta.json"]
    listed = runner.invoke(app, ["lm", "list", "--json", "--artifacts-root", str(root)])
    assert json.loads(listed.output)["models"][0]["model_id"] == "tiny-hf"
    new = runner.invoke(
        app,
        ["chat", "new", "--model", "tiny-hf", "--id", "c1", "--safety", "off", "--json",
         "--artifacts-root", str(root)],
    )  # fmt: skip
    assert new.exit_code == 0, new.output
    assert json.loads(new.output)["backend"] == "hf"
    sent = runner.invoke(
        app,
        ["chat", "send", "c1", "the cat sat on a mat", "--max-tokens", "3", "--json",
         "--artifacts-root", str(root)],
    )  # fmt: skip
    assert sent.exit_code == 0, sent.output
    rec = json.loads(sent.output)
    assert rec["committed_chunks"] == 1 and rec["fast_weight_norm"] > 0
    # The same id cannot be imported twice.
    again = _import(root, "--folder", str(tiny_hf_folder), "--id", "tiny-hf")
    assert again.exit_code != 0 and "already exists" in again.output


def test_bad_sources_are_clear_errors_and_create_nothing(
    tiny_hf_folder: Path, tmp_path: Path
) -> None:
    root = tmp_path / "art"
    r = _import(root, "--gguf", str(tmp_path / "missing.gguf"), "--id", "x")
    assert r.exit_code != 0 and "missing.gguf" in r.output and "not found" in r.output
    empty = tmp_path / "empty"
    empty.mkdir()
    r = _import(root, "--folder", str(empty), "--id", "y")
    assert r.exit_code != 0 and "config.json" in r.output
    r = _import(root, "--package", "no-such-pkg", "--id", "z")
    assert r.exit_code != 0 and "unknown model package" in r.output
    r = _import(root, "--folder", str(tiny_hf_folder), "--rank", "0", "--id", "w")
    assert r.exit_code != 0 and "rank" in r.output
    broken = tmp_path / "broken"
    shutil.copytree(tiny_hf_folder, broken)
    (broken / "config.json").write_text("{not json")
    r = _import(root, "--folder", str(broken), "--id", "v")
    assert r.exit_code == 1 and "cannot load the model" in r.output
    assert isinstance(r.exception, SystemExit)  # a clear error, not a traceback
    assert not ArtifactStore(root).list_ids("text_models")
