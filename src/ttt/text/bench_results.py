"""Saved benchmark results: ``benchmarks/<id>/result.json`` in the artifact root, for the
dashboard's Benchmarks page and the API (``/api/benchmarks``).

    ttt bench memory --model demo-lm --n-facts 1,4 --save mem-demo     # prints rows, saves
    ttt bench jailbreak --quick --save jb-quick
    check_new(store, "mem-demo")          # before a run: a valid id that is not taken yet
    save_result(store, "mem-demo", "memory", rows, config={...}, argv=[...])
    read_result(store, "mem-demo");  docs, errors = list_results(store)

``result.json``::

    {"schema_version": 1, "kind": "memory" | "jailbreak", "id", "created_at", "argv",
     "config": {...}, "versions": {"ttt", "torch", "python"}, "non_finite": [...],
     "rows": [...]}

``rows`` are the benchmark's rows exactly as ``--json`` prints them (``ttt.text.memory``:
one per model, number of facts and condition; ``ttt.text.jailbreak``: one per defence),
except that a non-finite number (JSON has none) is stored as null and its place listed in
``non_finite``. A result is written whole (built in a temporary folder and renamed into
place: a killed run leaves nothing under its id) and never overwritten. Reading checks the
kind and each row's identifying fields, and an error names the file.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping, Sequence
from typing import Any

from ttt import __version__
from ttt.models.registry import now_iso
from ttt.store import (
    AlreadyExistsError,
    ArtifactStore,
    CorruptFileError,
    NotFoundError,
    StoreError,
    read_json,
    validate_id,
    write_json,
)

KIND = "benchmarks"
RESULT_FILE = "result.json"
BENCH_KINDS = ("memory", "jailbreak")
# Fields every row of a kind must carry (what the dashboard groups by), with their types.
ROW_KEYS: dict[str, dict[str, type]] = {
    "memory": {"n_facts": int, "condition": str},
    "jailbreak": {"defence": str, "refusal_by_update": list, "curve_updates": list},
}
_TYPE_NAMES = {int: "an integer", str: "a string", list: "a list"}


def check_new(store: ArtifactStore, result_id: str) -> str:
    """``result_id`` if it is a valid id not taken yet (checked before a benchmark runs, so
    a long run never ends in a refused save)."""
    validate_id(result_id, what="benchmark result id")
    d = store.item_dir(KIND, result_id)
    if d.exists():
        raise AlreadyExistsError(
            f"benchmark result {result_id!r} already exists ({d / RESULT_FILE}); results are "
            "never overwritten: choose another --save name or delete that folder"
        )
    return result_id


def finite_copy(obj: Any, where: str, found: list[str]) -> Any:
    """``obj`` with every NaN or infinity replaced by None; their key paths go to ``found``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        found.append(where)
        return None
    if isinstance(obj, Mapping):
        return {k: finite_copy(v, f"{where}.{k}", found) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_copy(v, f"{where}[{i}]", found) for i, v in enumerate(obj)]
    return obj


def save_result(
    store: ArtifactStore,
    result_id: str,
    kind: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    config: Mapping[str, Any],
    argv: Sequence[str],
) -> dict[str, Any]:
    """Write ``benchmarks/<result_id>/result.json`` whole; returns the document."""
    import torch

    if kind not in BENCH_KINDS:
        raise ValueError(f"kind must be one of {BENCH_KINDS}, got {kind!r}")
    check_new(store, result_id)
    found: list[str] = []
    doc: dict[str, Any] = {
        "kind": kind,
        "id": result_id,
        "created_at": now_iso(),
        "argv": [str(a) for a in argv],
        "config": finite_copy(dict(config), "config", found),
        "versions": {
            "ttt": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "rows": finite_copy([dict(r) for r in rows], "rows", found),
    }
    doc["non_finite"] = found
    check_doc(doc, f"benchmark result {result_id!r}", result_id)  # what is read back
    store.build_item(KIND, result_id, lambda d: write_json(d / RESULT_FILE, doc))
    return read_result(store, result_id)


def check_doc(doc: Mapping[str, Any], where: str, result_id: str) -> None:
    """``CorruptFileError`` (naming ``where``) unless ``doc`` is a result of a known kind
    whose rows carry their identifying fields."""
    kind = doc.get("kind")
    if kind not in BENCH_KINDS:
        raise CorruptFileError(f"{where}: kind must be one of {BENCH_KINDS}, got {kind!r}")
    if doc.get("id") != result_id:
        raise CorruptFileError(f"{where}: id {doc.get('id')!r} is not its folder's {result_id!r}")
    rows = doc.get("rows")
    if not isinstance(rows, list):
        raise CorruptFileError(f"{where}: rows must be a list, got {type(rows).__name__}")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise CorruptFileError(f"{where}: rows[{i}] must be an object")
        for key, typ in ROW_KEYS[kind].items():
            v = row.get(key)
            if isinstance(v, bool) or not isinstance(v, typ):
                raise CorruptFileError(
                    f"{where}: rows[{i}].{key} must be {_TYPE_NAMES[typ]} in a {kind} result, "
                    f"got {v!r}"
                )
    for key in ("config", "versions"):
        if not isinstance(doc.get(key, {}), dict):
            raise CorruptFileError(f"{where}: {key} must be an object")
    for key in ("argv", "non_finite"):
        v = doc.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise CorruptFileError(f"{where}: {key} must be a list of strings")
    if not isinstance(doc.get("created_at"), str | None):
        raise CorruptFileError(f"{where}: created_at must be a string")


def read_result(store: ArtifactStore, result_id: str) -> dict[str, Any]:
    """A saved result (``NotFoundError`` for an unknown id; ``CorruptFileError`` naming the
    file for one that cannot be read or does not hold a result)."""
    d = store.item_dir(KIND, validate_id(result_id, what="benchmark result id"))
    path = d / RESULT_FILE
    if not d.is_dir():
        raise NotFoundError(f"benchmark result {result_id!r} not found (no folder {d})")
    doc = read_json(path)
    check_doc(doc, str(path), result_id)
    return doc


def summary(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What a listing shows of a result."""
    rows = doc["rows"]
    models = sorted({str(r["model"]) for r in rows if r.get("model") is not None})
    return {
        "id": doc["id"],
        "kind": doc["kind"],
        "created_at": doc.get("created_at"),
        "argv": list(doc.get("argv") or []),
        "n_rows": len(rows),
        "models": models,
    }


def list_results(store: ArtifactStore) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(summaries, newest first; ``[{id, detail}]`` of results that cannot be read)."""
    items: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for rid in store.list_ids(KIND):
        try:
            items.append(summary(read_result(store, rid)))
        except StoreError as exc:
            errors.append({"id": rid, "detail": str(exc)})
    items.sort(key=lambda s: (s["created_at"] or "", s["id"]), reverse=True)
    return items, errors


__all__ = [
    "BENCH_KINDS",
    "KIND",
    "RESULT_FILE",
    "check_new",
    "list_results",
    "read_result",
    "save_result",
    "summary",
]
