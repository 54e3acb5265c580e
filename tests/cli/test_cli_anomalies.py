"""``ttt anomalies scan | list | review`` on a real store (CliRunner)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from ttt.cli.main import app

runner = CliRunner()


def test_scan_list_review(review_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    shutil.copytree(review_root, root)
    r = runner.invoke(app, ["anomalies", "list", "--artifacts-root", str(root)])
    assert r.exit_code == 1 and "no anomaly scan yet" in r.output
    for args in (
        ["anomalies"],
        ["anomalies", "scan"],
        ["anomalies", "list"],
        ["anomalies", "review"],
    ):
        assert runner.invoke(app, [*args, "--help"]).exit_code == 0
    r = runner.invoke(
        app, ["anomalies", "scan", "--top", "5", "--json", "--artifacts-root", str(root)]
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert len(doc["findings"]) == 5 and doc["records"] > 5 and "texts" not in doc
    fid = doc["findings"][0]["id"]
    r = runner.invoke(
        app, ["anomalies", "review", fid, "reviewed", "--note", "ok", "--artifacts-root", str(root)]
    )
    assert r.exit_code == 0 and "reviewed" in r.output
    r = runner.invoke(
        app, ["anomalies", "list", "--state", "reviewed", "--json", "--artifacts-root", str(root)]
    )
    items = json.loads(r.output)
    assert [f["id"] for f in items] == [fid] and items[0]["review"]["note"] == "ok"
    r = runner.invoke(app, ["anomalies", "review", fid, "maybe", "--artifacts-root", str(root)])
    assert r.exit_code == 2 and "state must be" in r.output
    r = runner.invoke(app, ["anomalies", "scan", "--method", "lof", "--artifacts-root", str(root)])
    assert r.exit_code == 2 and "method" in r.output
