"""Lineage index: which item was forked from which, rebuilt from ``<kind>/*/meta.json``.

``<root>/<kind>/.index.json`` is only a cache. ``rebuild_index`` recreates it from the items'
own ``meta.json`` (``parent`` is null or ``{"session_id": ..., ...}``); ``load_index`` returns
the cache, rebuilding it when it is missing, corrupt or older than any ``meta.json``. Items
whose ``meta.json`` is unreadable are listed under ``errors`` instead of failing the listing.
"""

from __future__ import annotations

from typing import Any

from ttt.store.errors import CorruptFileError, StoreError
from ttt.store.ids import is_valid_id
from ttt.store.io import SCHEMA_VERSION, read_json, write_json
from ttt.store.store import ArtifactStore

INDEX_NAME = ".index.json"


def _signature(store: ArtifactStore, kind: str) -> dict[str, list[int] | None]:
    """``{id: [mtime_ns, size] of its meta.json, or None}``: changes whenever lineage can."""
    sig: dict[str, list[int] | None] = {}
    for item_id in store.list_ids(kind):
        try:
            st = (store.item_dir(kind, item_id) / "meta.json").stat()
            sig[item_id] = [st.st_mtime_ns, st.st_size]
        except FileNotFoundError:
            sig[item_id] = None
    return sig


def _parent_id(meta: dict[str, Any], path: object) -> str | None:
    ref = meta.get("parent")
    if ref is None:
        return None
    if isinstance(ref, dict) and is_valid_id(ref.get("session_id")):
        return str(ref["session_id"])
    raise CorruptFileError(
        f"{path}: field 'parent' must be null or an object with a valid 'session_id', got {ref!r}"
    )


def rebuild_index(store: ArtifactStore, kind: str = "sessions") -> dict[str, Any]:
    """Scan ``<kind>/*/meta.json`` and write ``{"nodes", "roots", "children", "errors"}``.

    Roots are items without a parent, or whose parent is gone (marked ``"orphan": true``).
    Items without a ``meta.json`` (still being created) are left out."""
    signature = _signature(store, kind)
    nodes: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for item_id, sig in signature.items():
        if sig is None:
            continue
        path = store.item_dir(kind, item_id) / "meta.json"
        try:
            meta = read_json(path)
            parent = _parent_id(meta, path)
        except StoreError as e:
            errors.append({"id": item_id, "file": str(path), "error": str(e)})
            continue
        nodes.append(
            {
                "id": item_id,
                "parent": parent,
                "parent_ref": meta.get("parent"),
                "created_at": meta.get("created_at"),
                "orphan": False,
            }
        )
    known = {n["id"] for n in nodes}
    children: dict[str, list[str]] = {n["id"]: [] for n in nodes}
    roots: list[str] = []
    for node in sorted(nodes, key=lambda n: (str(n["created_at"] or ""), n["id"])):
        if node["parent"] in known:
            children[node["parent"]].append(node["id"])
        else:
            node["orphan"] = node["parent"] is not None
            roots.append(node["id"])
    index: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "nodes": nodes,
        "roots": roots,
        "children": children,
        "errors": errors,
        "signature": signature,
    }
    try:
        write_json(store.kind_dir(kind) / INDEX_NAME, index)
    except StoreError as e:  # a read-only root still gets its listing, just no cache
        index["cache_error"] = str(e)
    return index


def load_index(store: ArtifactStore, kind: str = "sessions") -> dict[str, Any]:
    """The cached index when it is current, else a freshly rebuilt one."""
    try:
        index = read_json(store.kind_dir(kind) / INDEX_NAME)
    except StoreError:
        return rebuild_index(store, kind)
    fields_ok = all(isinstance(index.get(k), t) for k, t in _FIELDS.items())
    if not fields_ok or index.get("signature") != _signature(store, kind):
        return rebuild_index(store, kind)
    return index


_FIELDS = {"nodes": list, "roots": list, "children": dict, "errors": list, "signature": dict}
