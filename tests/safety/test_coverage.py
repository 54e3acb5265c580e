"""The safety coverage matrix is generated from the domains' declarations, and the README
carries the current one."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from ttt.safety import coverage

README = Path(__file__).resolve().parents[2] / "README.md"


def test_nano_row_comes_from_its_declaration():
    from ttt.nano.config import SAFETY_SUPPORT

    m = coverage.matrix()
    assert set(m) == {"Sentry", "Chat", "Nano"}
    for key, _ in coverage.MECHANISMS:
        assert m["Nano"][key] == coverage.cell(SAFETY_SUPPORT[key])
    assert m["Nano"]["gate"] == "n/a (physics input)"
    for key in ("update_transaction", "canary_rollback", "grad_alignment", "spfw"):
        assert m["Nano"][key].startswith("yes"), key


def test_absent_domains_render_as_not_built(monkeypatch):
    assert coverage.load_support("ttt.text.no_such_domain_module") is None
    empty = types.ModuleType("ttt_fake_domain_without_constant")
    monkeypatch.setitem(sys.modules, empty.__name__, empty)
    assert coverage.load_support(empty.__name__) is None
    monkeypatch.setattr(
        coverage,
        "DOMAINS",
        (("Ghost", "ttt.text.no_such_domain_module"), ("Nano", "ttt.nano.config")),
    )
    table = coverage.render_table()
    lines = table.splitlines()
    assert lines[0] == "| mechanism | Ghost | Nano |"
    assert lines[1] == "|---|---|---|"
    assert "| gate | not built yet | n/a (physics input) |" in lines
    assert len(lines) == 2 + len(coverage.MECHANISMS)


def test_bad_declarations_are_errors(monkeypatch, tmp_path):
    partial = types.ModuleType("ttt_fake_partial")
    partial.SAFETY_SUPPORT = {"gate": True}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, partial.__name__, partial)
    monkeypatch.setattr(coverage, "DOMAINS", (("Partial", partial.__name__),))
    m = coverage.matrix()["Partial"]
    assert m["gate"] == "yes" and m["spfw"] == coverage.NOT_DECLARED
    partial.SAFETY_SUPPORT = {"rollback": "yes: via an alias"}  # type: ignore[attr-defined]
    assert coverage.matrix()["Partial"]["canary_rollback"] == "yes: via an alias"
    partial.SAFETY_SUPPORT = {"rollback": True, "canary_rollback": True}  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="twice"):
        coverage.matrix()
    partial.SAFETY_SUPPORT = {"teleport": True}  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown mechanism"):
        coverage.matrix()
    partial.SAFETY_SUPPORT = {"gate": 3}  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="True, False or a string"):
        coverage.matrix()
    # A module that exists but fails to import (a missing dependency) is an error, never
    # "not built yet".
    (tmp_path / "ttt_fake_broken_domain.py").write_text("import ttt_missing_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="ttt_missing_dependency_xyz"):
        coverage.load_support("ttt_fake_broken_domain")


def test_module_prints_the_table():
    out = subprocess.run(
        [sys.executable, "-m", "ttt.safety.coverage"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == coverage.render_table()


def test_readme_carries_the_current_table():
    text = README.read_text(encoding="utf-8")
    block = coverage.readme_block(text)
    if block is None:
        pytest.skip(
            f"README.md has no {coverage.START_MARKER} ... {coverage.END_MARKER} block yet; "
            "paste the output of `python -m ttt.safety.coverage` between them"
        )
    assert block == coverage.render_table(), (
        "README.md's safety coverage table is stale: replace the block between the coverage "
        "markers with the output of `python -m ttt.safety.coverage`"
    )


def test_readme_block_parsing():
    table = coverage.render_table()
    text = f"# x\n\n{coverage.START_MARKER}\n{table}\n{coverage.END_MARKER}\n\nmore\n"
    assert coverage.readme_block(text) == table
    stale = text.replace("| SPFW |", "| SPFW (old) |")
    assert coverage.readme_block(stale) != table
    assert coverage.readme_block("no markers here") is None
