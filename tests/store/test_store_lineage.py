"""Lineage index: rebuilt from meta.json files, corrupt items reported, cache self-heals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ttt.store import ArtifactStore, load_index, read_json, rebuild_index, write_json


def _session(store: ArtifactStore, sid: str, parent: Any, created: str) -> Path:
    d = store.create_item("sessions", sid)
    write_json(d / "meta.json", {"session_id": sid, "parent": parent, "created_at": created})
    return d


def _tree(tmp_path: Path) -> ArtifactStore:
    store = ArtifactStore(tmp_path)
    _session(store, "root", None, "2026-01-01T00:00:00Z")
    _session(store, "kid2", {"session_id": "root", "k": 5}, "2026-01-03T00:00:00Z")
    _session(store, "kid1", {"session_id": "root", "k": 2}, "2026-01-02T00:00:00Z")
    _session(store, "grand", {"session_id": "kid1", "k": 1}, "2026-01-04T00:00:00Z")
    _session(store, "orphan", {"session_id": "deleted"}, "2026-01-05T00:00:00Z")
    (_session(store, "broken", None, "x") / "meta.json").write_text('{"schema_version": 1,')
    _session(store, "badparent", {"session_id": "../x"}, "2026-01-06T00:00:00Z")
    store.create_item("sessions", "creating")  # no meta.json yet
    return store


def test_rebuild_index(tmp_path: Path) -> None:
    store = _tree(tmp_path)
    index = rebuild_index(store)
    nodes = {n["id"]: n for n in index["nodes"]}
    assert set(nodes) == {"root", "kid1", "kid2", "grand", "orphan"}
    assert nodes["grand"]["parent"] == "kid1" and nodes["grand"]["parent_ref"]["k"] == 1
    assert nodes["root"]["created_at"] == "2026-01-01T00:00:00Z"
    assert index["roots"] == ["root", "orphan"]
    assert nodes["orphan"]["orphan"] and not nodes["root"]["orphan"]
    assert index["children"]["root"] == ["kid1", "kid2"]  # by creation time
    assert index["children"]["grand"] == []
    errors = {e["id"]: e for e in index["errors"]}
    assert set(errors) == {"broken", "badparent"}
    assert errors["broken"]["file"].endswith("broken/meta.json")
    assert "invalid JSON" in errors["broken"]["error"]
    assert "field 'parent'" in errors["badparent"]["error"]
    cached = read_json(tmp_path / "sessions" / ".index.json")
    assert cached["roots"] == index["roots"] and cached["children"] == index["children"]


def test_load_index_rebuilds_missing_corrupt_or_stale_cache(tmp_path: Path) -> None:
    store = _tree(tmp_path)
    cache = tmp_path / "sessions" / ".index.json"
    assert not cache.exists()
    first = load_index(store)
    assert cache.exists() and load_index(store) == first
    cache.write_text("{ not json")
    assert load_index(store)["roots"] == first["roots"]
    _session(store, "kid3", {"session_id": "kid2"}, "2026-02-01T00:00:00Z")
    assert load_index(store)["children"]["kid2"] == ["kid3"]
    write_json(store.item_dir("sessions", "creating") / "meta.json", {"parent": None})
    assert "creating" in load_index(store)["roots"]


def test_empty_kind(tmp_path: Path) -> None:
    index = rebuild_index(ArtifactStore(tmp_path), "text_sessions")
    assert index["nodes"] == [] and index["roots"] == [] and index["errors"] == []
