"""Saved benchmark results (``ttt.text.bench_results``, ``ttt bench memory|jailbreak --save``):
the saved rows are exactly the printed ones, the saved command reproduces them, an id is
never overwritten (refused before the run), non-finite numbers are stored as null and named,
and a malformed file is an error naming it while the listing still works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ttt.cli.main import app
from ttt.store import AlreadyExistsError, ArtifactStore, InvalidIdError, StoreError
from ttt.text.bench_results import list_results, read_result, save_result

runner = CliRunner()
TIMING = ("seconds", "write_seconds")
MEMORY = ("bench", "memory", "--model", "tiny-lm", "--n-facts", "1,2", "--seeds", "0",
          "--ppl-windows", "1", "--max-tokens", "4", "--threads", "1")  # fmt: skip


@pytest.fixture()
def root(tiny_lm_copy: Path) -> Path:
    return tiny_lm_copy


def invoke(root: Path, *args: str, code: int = 0) -> str:
    res = runner.invoke(app, [*args, "--artifacts-root", str(root)], catch_exceptions=False)
    assert res.exit_code == code, res.output
    return res.output


def lines(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines() if x.startswith("{")]


def untimed(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def test_memory_save_keeps_the_printed_rows_and_a_command_that_reproduces_them(
    root: Path,
) -> None:
    printed = lines(invoke(root, *MEMORY, "--save", "m1", "--json"))
    assert len(printed) == 6  # 2 fact counts x 3 conditions
    doc = read_result(ArtifactStore(root), "m1")
    assert doc["kind"] == "memory" and doc["id"] == "m1" and doc["non_finite"] == []
    assert doc["rows"] == printed
    assert doc["config"]["n_facts"] == [1, 2] and doc["config"]["models"] == ["tiny-lm"]
    assert doc["versions"]["torch"] and doc["created_at"]
    argv = doc["argv"]
    assert argv[:3] == ["ttt", "bench", "memory"] and "--save" not in argv
    again = lines(invoke(root, *argv[1:], "--threads", "1"))
    assert untimed(again) == untimed(printed)


def test_an_id_is_never_overwritten_and_is_refused_before_the_run(root: Path) -> None:
    store = ArtifactStore(root)
    save_result(store, "m1", "memory", [{"n_facts": 1, "condition": "no_update"}],
                config={}, argv=[])  # fmt: skip
    before = (root / "benchmarks" / "m1" / "result.json").read_bytes()
    out = invoke(root, *MEMORY, "--save", "m1", "--json", code=1)
    assert "already exists" in out and "m1" in out and not lines(out)  # nothing ran
    assert (root / "benchmarks" / "m1" / "result.json").read_bytes() == before
    assert "invalid benchmark result id" in invoke(root, *MEMORY, "--save", "../m", code=2)
    with pytest.raises(AlreadyExistsError, match="m1"):
        save_result(store, "m1", "memory", [], config={}, argv=[])
    with pytest.raises(InvalidIdError):
        save_result(store, "a/b", "memory", [], config={}, argv=[])
    with pytest.raises(ValueError, match="kind"):
        save_result(store, "m2", "poison", [], config={}, argv=[])
    assert not (root / "benchmarks" / "m2").exists()


def test_non_finite_numbers_are_stored_as_null_and_named(root: Path) -> None:
    store = ArtifactStore(root)
    rows = [{"n_facts": 1, "condition": "fast_weights", "ppl_after": float("inf"),
             "recall": float("nan")}]  # fmt: skip
    doc = save_result(store, "m1", "memory", rows, config={"lr": float("nan")}, argv=["x"])
    assert doc["rows"][0]["ppl_after"] is None and doc["rows"][0]["recall"] is None
    assert doc["non_finite"] == ["config.lr", "rows[0].ppl_after", "rows[0].recall"]


def test_jailbreak_save_on_tinylm(root: Path) -> None:
    # The identity threat needs no answers from the base model (a tiny one may give none).
    args = ("bench", "jailbreak", "--model", "tiny-lm", "--base", "tiny-lm", "--quick",
            "--threat", "identity", "--threads", "1", "--save", "jb", "--json")  # fmt: skip
    printed = lines(invoke(root, *args))
    doc = read_result(ArtifactStore(root), "jb")
    assert doc["kind"] == "jailbreak" and doc["rows"] == printed
    assert [r["defence"] for r in doc["rows"]] == ["none", "all"]
    for r in doc["rows"]:
        assert len(r["refusal_by_update"]) == len(r["curve_updates"]) == 4  # 0..3 updates
    assert doc["config"]["trials"] == 2 and doc["config"]["base"] == "tiny-lm"
    assert "--quick" in doc["argv"] and doc["config"]["threat"] == "identity"


def test_a_malformed_result_names_its_file_and_the_listing_still_works(root: Path) -> None:
    store = ArtifactStore(root)
    save_result(store, "good", "jailbreak",
                [{"defence": "none", "refusal_by_update": [1.0], "curve_updates": [0],
                  "model": "m"}], config={}, argv=[])  # fmt: skip
    cases = {
        "bad-json": "{not json",
        "bad-kind": json.dumps({"schema_version": 1, "kind": "x", "id": "bad-kind", "rows": []}),
        "bad-row": json.dumps({"schema_version": 1, "kind": "memory", "id": "bad-row",
                               "rows": [{"n_facts": "4", "condition": "in_context"}]}),
        "bad-id": json.dumps({"schema_version": 1, "kind": "memory", "id": "other", "rows": []}),
        "no-schema": json.dumps({"kind": "memory", "id": "no-schema", "rows": []}),
    }  # fmt: skip
    for rid, text in cases.items():
        d = root / "benchmarks" / rid
        d.mkdir()
        (d / "result.json").write_text(text)
        with pytest.raises(StoreError) as e:
            read_result(store, rid)
        assert str(d / "result.json") in str(e.value)
    items, errors = list_results(store)
    assert [s["id"] for s in items] == ["good"] and items[0]["models"] == ["m"]
    assert sorted(e["id"] for e in errors) == sorted(cases)
    assert all("result.json" in e["detail"] for e in errors)
