"""Saved benchmark results over the API (``/api/benchmarks``): the listing and one result
equal the files the real ``ttt bench memory --save`` wrote; a malformed file is named in the
listing's errors and its own URL is 500 naming it, the others unaffected; 404 and 400."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apitools import client_over
from typer.testing import CliRunner

from ttt.cli.main import app


@pytest.fixture(scope="module")
def bench_root(tmp_path_factory: pytest.TempPathFactory, tiny_lm_root: Path) -> Path:
    root = tmp_path_factory.mktemp("bench_api") / "artifacts"
    shutil.copytree(tiny_lm_root, root)
    args = ["bench", "memory", "--model", "tiny-lm", "--n-facts", "1", "--seeds", "0",
            "--ppl-windows", "1", "--max-tokens", "4", "--conditions", "fast_weights,no_update",
            "--threads", "1", "--save", "mem-a", "--json",
            "--artifacts-root", str(root)]  # fmt: skip
    res = CliRunner().invoke(app, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return root


@pytest.fixture(scope="module")
def c(bench_root: Path) -> Iterator[Any]:
    yield from client_over(bench_root)


def test_list_and_get_equal_the_saved_file(c: Any, bench_root: Path) -> None:
    saved = json.loads((bench_root / "benchmarks" / "mem-a" / "result.json").read_text())
    listed = c.get("/api/benchmarks").json()
    assert listed["total"] == 1 and listed["errors"] == []
    item = listed["items"][0]
    assert item == {"id": "mem-a", "kind": "memory", "created_at": saved["created_at"],
                    "argv": saved["argv"], "n_rows": 2, "models": ["tiny-lm"]}  # fmt: skip
    got = c.get("/api/benchmarks/mem-a").json()
    saved.pop("schema_version")
    assert got == saved
    assert [r["condition"] for r in got["rows"]] == ["fast_weights", "no_update"]


def test_a_malformed_result_is_named_and_the_others_still_list(c: Any, bench_root: Path) -> None:
    d = bench_root / "benchmarks" / "broken"
    d.mkdir()
    (d / "result.json").write_text(
        json.dumps({"schema_version": 1, "kind": "memory", "id": "broken", "rows": [7]})
    )
    try:
        listed = c.get("/api/benchmarks").json()
        assert [i["id"] for i in listed["items"]] == ["mem-a"]
        assert listed["errors"][0]["id"] == "broken"
        assert str(d / "result.json") in listed["errors"][0]["detail"]
        r = c.get("/api/benchmarks/broken")
        assert r.status_code == 500 and str(d / "result.json") in r.json()["detail"]
        assert c.get("/api/benchmarks/mem-a").status_code == 200
    finally:
        shutil.rmtree(d)


def test_unknown_and_invalid_ids(c: Any) -> None:
    r = c.get("/api/benchmarks/nope")
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    for bad in ("..x", ".hidden", "a%20b"):
        r = c.get(f"/api/benchmarks/{bad}")
        assert r.status_code == 400 and "invalid benchmark result id" in r.json()["detail"], bad


def test_empty_root_lists_nothing(tmp_path: Path, make_client: Any) -> None:
    c = make_client(tmp_path / "empty" / "artifacts")
    assert c.get("/api/benchmarks").json() == {"items": [], "total": 0, "errors": []}
