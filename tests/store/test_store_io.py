"""Crash-safe IO: atomic writes, JSON schema checks, torn JSONL, CSV, safetensors."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import torch

from ttt.store import (
    SCHEMA_VERSION,
    CorruptFileError,
    NotFoundError,
    SchemaVersionError,
    StoreError,
    append_jsonl,
    atomic_write_text,
    read_json,
    read_json_list,
    read_jsonl,
    read_jsonl_ex,
    read_tensor_metadata,
    read_tensors,
    write_csv,
    write_json,
    write_json_list,
    write_tensors,
)


def _temps(d: Path) -> list[str]:
    return [p.name for p in d.iterdir() if p.name.startswith(".tmp-")]


# ---------------------------------------------------------------- atomic writes


def test_failed_replace_keeps_old_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "meta.json"
    write_json(p, {"v": 1})

    def boom(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(StoreError, match=r"meta\.json: cannot write"):
        write_json(p, {"v": 2})
    monkeypatch.undo()
    assert read_json(p)["v"] == 1
    assert _temps(tmp_path) == []


def test_interrupt_midway_keeps_old_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "state.txt"
    atomic_write_text(p, "old")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):  # not wrapped: Ctrl-C stays Ctrl-C
        atomic_write_text(p, "new" * 1000)
    monkeypatch.undo()
    assert p.read_text() == "old" and _temps(tmp_path) == []


def test_atomic_write_creates_parents(tmp_path: Path) -> None:
    p = tmp_path / "a" / "b" / "c.txt"
    atomic_write_text(p, "héllo")
    assert p.read_text(encoding="utf-8") == "héllo"


# ---------------------------------------------------------------- JSON


def test_json_roundtrip_sets_schema_version(tmp_path: Path) -> None:
    p = tmp_path / "m.json"
    write_json(p, {"schema_version": 99, "a": [1, 2.5, None, "ü"], "b": {"c": True}})
    doc = read_json(p)
    assert doc == {"schema_version": SCHEMA_VERSION, "a": [1, 2.5, None, "ü"], "b": {"c": True}}
    assert p.read_text().startswith('{\n  "schema_version": 1')
    write_json(p, {"a": 1}, schema_version=2)
    assert read_json(p, supported=(1, 2))["schema_version"] == 2


def test_corrupt_json_names_file_and_position(tmp_path: Path) -> None:
    p = tmp_path / "meta.json"
    p.write_text('{\n  "schema_version": 1,\n  "b": ]\n}')
    with pytest.raises(CorruptFileError) as info:
        read_json(p)
    msg = str(info.value)
    assert msg.startswith(f"{p}: invalid JSON at line 3 column 8"), msg


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty file"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'{"schema_version": 1', "invalid JSON at line 1"),
    ],
)
def test_corrupt_json_variants(tmp_path: Path, content: bytes, match: str) -> None:
    p = tmp_path / "x.json"
    p.write_bytes(content)
    with pytest.raises(CorruptFileError, match=match) as info:
        read_json(p)
    assert str(p) in str(info.value)


def test_schema_version_errors_name_file(tmp_path: Path) -> None:
    p = tmp_path / "meta.json"
    p.write_text(json.dumps({"schema_version": 7}))
    with pytest.raises(SchemaVersionError) as info:
        read_json(p)
    assert str(info.value) == f"{p}: schema_version 7 is not supported (supported: 1)"
    p.write_text(json.dumps({"a": 1}))
    with pytest.raises(SchemaVersionError, match=r"meta\.json: missing schema_version"):
        read_json(p)
    p.write_text(json.dumps({"schema_version": "1"}))
    with pytest.raises(SchemaVersionError, match="schema_version '1' is not supported"):
        read_json(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"nope\.json: file not found"):
        read_json(tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ({"m": {"loss": float("nan")}}, r"nan at key 'm\.loss' \(JSON has no NaN"),
        ({"events": [{"z": 1.0}, {"z": float("-inf")}]}, r"-inf at key 'events\[1\]\.z'"),
        ({"w": torch.zeros(2)}, r"at key 'w' \(a Tensor is not JSON-serialisable\)"),
    ],
)
def test_unwritable_values_name_key(tmp_path: Path, obj: dict, match: str) -> None:
    p = tmp_path / "metrics.json"
    with pytest.raises(StoreError, match=match) as info:
        write_json(p, obj)
    assert str(info.value).startswith(str(p))
    assert not p.exists() and _temps(tmp_path) == []


def test_json_list(tmp_path: Path) -> None:
    p = tmp_path / "update_events.json"
    write_json_list(p, [{"t": 1, "status": "commit"}])
    assert read_json_list(p) == [{"t": 1, "status": "commit"}]
    p.write_text("{}")
    with pytest.raises(CorruptFileError, match="expected a JSON list"):
        read_json_list(p)
    with pytest.raises(StoreError, match=r"key '\[0\]\.x'"):
        write_json_list(p, [{"x": float("nan")}])


# ---------------------------------------------------------------- JSONL


def test_torn_last_line_tolerated_and_next_append_parseable(tmp_path: Path) -> None:
    p = tmp_path / "events.jsonl"
    for i in range(3):
        append_jsonl(p, {"i": i})
    with open(p, "ab") as f:
        f.write(b'{"i": 3, "text": "half a rec')  # a crash mid-append
    assert read_jsonl_ex(p) == ([{"i": 0}, {"i": 1}, {"i": 2}], 1)
    append_jsonl(p, {"i": 4})
    append_jsonl(p, {"i": 5})
    records, torn = read_jsonl_ex(p)
    assert [r["i"] for r in records] == [0, 1, 2, 4, 5] and torn == 1
    assert read_jsonl(p) == records


def test_unterminated_but_complete_last_line_is_kept(tmp_path: Path) -> None:
    p = tmp_path / "log.jsonl"
    p.write_bytes(b'{"i": 0}\n{"i": 1}')
    assert read_jsonl_ex(p) == ([{"i": 0}, {"i": 1}], 0)
    append_jsonl(p, {"i": 2})
    assert read_jsonl_ex(p) == ([{"i": 0}, {"i": 1}, {"i": 2}], 0)


def test_corrupt_middle_line_names_line(tmp_path: Path) -> None:
    p = tmp_path / "log.jsonl"
    p.write_bytes(b'{"i": 0}\n{"i": 1, oops}\n{"i": 2}\n')
    with pytest.raises(CorruptFileError) as info:
        read_jsonl(p)
    assert str(info.value).startswith(f"{p}: line 2: invalid JSON")
    # A bad line that ends in a newline is corruption too, even when it is the last one.
    p.write_bytes(b'{"i": 0}\ngarbage\n')
    with pytest.raises(CorruptFileError, match="line 2"):
        read_jsonl(p)
    p.write_bytes(b'{"i": 0}\n[1, 2]\n')
    with pytest.raises(CorruptFileError, match="line 2: expected a JSON object"):
        read_jsonl(p)


def test_jsonl_unicode_separators_stay_in_one_line(tmp_path: Path) -> None:
    p = tmp_path / "trace.jsonl"
    rec = {"text": "a\u2028b\u2029c\nd\re\x85", "emoji": "🙂"}
    append_jsonl(p, rec)
    append_jsonl(p, {"i": 1})
    assert read_jsonl(p) == [rec, {"i": 1}]


def test_jsonl_rejects_nan(tmp_path: Path) -> None:
    p = tmp_path / "log.jsonl"
    with pytest.raises(StoreError, match=r"key 'loss'"):
        append_jsonl(p, {"loss": float("nan")})
    assert not p.exists()


# ---------------------------------------------------------------- CSV


def test_csv(tmp_path: Path) -> None:
    p = tmp_path / "per_step.csv"
    write_csv(p, ["t", "baseline_mse", "note"], [(0, 0.5, "a,b"), (1, 0.25, 'q"')])
    with open(p, newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["t", "baseline_mse", "note"], ["0", "0.5", "a,b"], ["1", "0.25", 'q"']]
    with pytest.raises(StoreError, match="row 0 has 1 values for 3 columns"):
        write_csv(p, ["t", "a", "b"], [(1,)])
    assert len(p.read_text().splitlines()) == 3  # old file kept


# ---------------------------------------------------------------- tensors


def test_tensor_roundtrip(tmp_path: Path) -> None:
    p = tmp_path / "plastic_state.safetensors"
    x = torch.randn(4, 3)
    tensors = {
        "W": x.T,  # non-contiguous
        "alias": x,  # shares storage with "W"
        "bf": torch.ones(2, dtype=torch.bfloat16),
        "n": torch.arange(5),
        "flag": torch.tensor([True, False]),
        "scalar": torch.tensor(3.0),
        "empty": torch.zeros(0, 2),
    }
    write_tensors(p, tensors, metadata={"step": "7"})
    back = read_tensors(p)
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        assert torch.equal(back[k], v) and back[k].dtype == v.dtype
    assert read_tensor_metadata(p) == {"step": "7"}


def test_nan_tensors_rejected_when_checked(tmp_path: Path) -> None:
    p = tmp_path / "w.safetensors"
    write_tensors(p, {"ok": torch.ones(2), "W_u": torch.tensor([1.0, float("nan"), float("inf")])})
    with pytest.raises(CorruptFileError) as info:
        read_tensors(p)
    assert str(info.value) == f"{p}: tensor 'W_u' has 2 non-finite value(s) (NaN/inf)"
    assert torch.isnan(read_tensors(p, check_finite=False)["W_u"][1])


@pytest.mark.parametrize("keep", [0, 5, 8, 40, -3])
def test_truncated_safetensors(tmp_path: Path, keep: int) -> None:
    p = tmp_path / "w.safetensors"
    write_tensors(p, {"w": torch.randn(8, 8)})
    data = p.read_bytes()
    p.write_bytes(data[:keep])
    with pytest.raises(CorruptFileError, match="invalid safetensors file") as info:
        read_tensors(p)
    assert str(p) in str(info.value)


def test_write_tensors_rejects_non_tensors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="'w' is a list, not a tensor"):
        write_tensors(tmp_path / "w.safetensors", {"w": [1, 2]})  # type: ignore[dict-item]
