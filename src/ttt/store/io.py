"""Crash-safe file IO for the artifact store: atomic writes, JSON with ``schema_version``,
append-only JSONL, CSV, and tensors as safetensors (never pickles, never ``torch.load``).

Whole-file writes go to a temp file ``.tmp-<name>.<random>`` in the same folder, are flushed
and fsynced, ``os.replace``d over the target, and the folder is fsynced: a reader sees the old
file or the new one, never half of one. A JSONL record is appended with one ``write``; a crash
mid-append leaves a torn last line, which readers skip (and count). The next append closes the
torn line and adds an empty line after it, which marks it as torn for later readers.

    write_json(d / "meta.json", {"session_id": sid})   # adds "schema_version": 1
    meta = read_json(d / "meta.json")                    # CorruptFileError names the file
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import secrets
import struct
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save

from ttt.store.errors import CorruptFileError, NotFoundError, SchemaVersionError, StoreError

SCHEMA_VERSION = 1
TMP_PREFIX = ".tmp-"

PathLike = str | os.PathLike[str]


def _show(path: PathLike) -> str:
    return os.path.abspath(path)


# ---------------------------------------------------------------------------- atomic writes


def fsync_dir(path: Path) -> None:
    """Make a rename/create in ``path`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse fsync on folders
            os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (creates missing parent folders)."""
    path = Path(path)
    parent = path.parent
    tmp = parent / f"{TMP_PREFIX}{path.name[:100]}.{secrets.token_hex(4)}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise StoreError(f"{_show(path)}: cannot write ({e})") from e
        raise
    fsync_dir(parent)


def atomic_write_text(path: PathLike, text: str) -> None:
    """Replace ``path`` with UTF-8 ``text`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


# ---------------------------------------------------------------------------- JSON


def _first_bad(obj: Any, where: str, depth: int = 0) -> tuple[str, Any] | None:
    """The first value JSON cannot hold (non-finite float, foreign type), with its key path."""
    if depth > 200:
        return None
    if isinstance(obj, float):
        return None if math.isfinite(obj) else (where, obj)
    if obj is None or isinstance(obj, str | int):
        return None
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str | int | float | bool) and k is not None:
                return (f"{where} (a key)", k)
            found = _first_bad(v, f"{where}.{k}" if where else str(k), depth + 1)
            if found:
                return found
        return None
    if isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            found = _first_bad(v, f"{where}[{i}]", depth + 1)
            if found:
                return found
        return None
    return (where, obj)


def _dumps(obj: Any, path: PathLike, *, indent: int | None) -> str:
    try:
        return json.dumps(obj, indent=indent, allow_nan=False, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError) as e:
        bad = _first_bad(obj, "")
        if bad is None:
            raise StoreError(f"{_show(path)}: cannot write JSON ({e})") from e
        where, value = bad
        why = (
            "JSON has no NaN/Infinity; store None instead"
            if isinstance(value, float)
            else f"a {type(value).__name__} is not JSON-serialisable"
        )
        raise StoreError(f"{_show(path)}: cannot write {value!r} at key '{where}' ({why})") from e


def _read_bytes(path: PathLike) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as e:
        raise NotFoundError(f"{_show(path)}: file not found") from e
    except IsADirectoryError as e:
        raise CorruptFileError(f"{_show(path)}: is a folder, expected a file") from e
    except OSError as e:
        raise StoreError(f"{_show(path)}: cannot read ({e})") from e


def _parse_json(path: PathLike, data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorruptFileError(f"{_show(path)}: not UTF-8 (bad byte at offset {e.start})") from e
    if not text.strip():
        raise CorruptFileError(f"{_show(path)}: empty file, expected JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise CorruptFileError(
            f"{_show(path)}: invalid JSON at line {e.lineno} column {e.colno} ({e.msg})"
        ) from e
    except RecursionError as e:
        raise CorruptFileError(f"{_show(path)}: JSON nested too deeply") from e


def write_json(
    path: PathLike, obj: Mapping[str, Any], *, schema_version: int = SCHEMA_VERSION
) -> None:
    """Write ``obj`` as indented JSON with ``schema_version`` set, atomically.

    Raises ``StoreError`` naming the file and key for NaN/inf or values JSON cannot hold."""
    if not isinstance(obj, Mapping):
        raise TypeError(f"{_show(path)}: write_json needs a mapping, got {type(obj).__name__}")
    doc = {"schema_version": schema_version, **obj}
    doc["schema_version"] = schema_version
    atomic_write_text(path, _dumps(doc, path, indent=2) + "\n")


def check_schema_version(doc: Mapping[str, Any], path: PathLike, supported: Iterable[int]) -> int:
    """Return ``doc["schema_version"]`` or raise ``SchemaVersionError`` naming ``path``."""
    versions = tuple(supported)
    listed = ", ".join(str(v) for v in versions)
    if "schema_version" not in doc:
        raise SchemaVersionError(f"{_show(path)}: missing schema_version (supported: {listed})")
    sv = doc["schema_version"]
    if isinstance(sv, bool) or not isinstance(sv, int) or sv not in versions:
        raise SchemaVersionError(
            f"{_show(path)}: schema_version {sv!r} is not supported (supported: {listed})"
        )
    return sv


def read_json(path: PathLike, *, supported: Iterable[int] = (SCHEMA_VERSION,)) -> dict[str, Any]:
    """Read a JSON object written by ``write_json`` and check its ``schema_version``."""
    doc = _parse_json(path, _read_bytes(path))
    if not isinstance(doc, dict):
        raise CorruptFileError(f"{_show(path)}: expected a JSON object, got {type(doc).__name__}")
    check_schema_version(doc, path, supported)
    return doc


def write_json_list(path: PathLike, items: Sequence[Any]) -> None:
    """Write a bare JSON list (seed formats such as ``update_events.json``) atomically."""
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise TypeError(f"{_show(path)}: write_json_list needs a list, got {type(items).__name__}")
    atomic_write_text(path, _dumps(list(items), path, indent=2) + "\n")


def read_json_list(path: PathLike) -> list[Any]:
    """Read a bare JSON list written by ``write_json_list``."""
    doc = _parse_json(path, _read_bytes(path))
    if not isinstance(doc, list):
        raise CorruptFileError(f"{_show(path)}: expected a JSON list, got {type(doc).__name__}")
    return doc


# ---------------------------------------------------------------------------- JSONL


def append_jsonl(path: PathLike, record: Mapping[str, Any]) -> None:
    """Append one JSON record as one line (O_APPEND, one write, fsync).

    If the file does not end in a newline (a torn line from a crash), the torn line is first
    closed and followed by an empty line, which tells readers it is torn, not corrupt."""
    path = Path(path)
    if not isinstance(record, Mapping):
        raise TypeError(f"{_show(path)}: append_jsonl needs a mapping, got {type(record)}")
    line = _dumps(dict(record), path, indent=None).encode("utf-8") + b"\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as e:
        raise StoreError(f"{_show(path)}: cannot open for append ({e})") from e
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n\n" + line
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError as e:
        raise StoreError(f"{_show(path)}: cannot append ({e})") from e
    finally:
        os.close(fd)
    if size == 0:
        fsync_dir(path.parent)


def read_jsonl_ex(path: PathLike) -> tuple[list[dict[str, Any]], int]:
    """Read a JSONL log: ``(records, n_torn)``.

    A torn line (the unterminated last line, or a line that ``append_jsonl`` closed with an
    empty line after it) is skipped and counted; any other bad line raises
    ``CorruptFileError`` naming the file and line number."""
    lines = _read_bytes(path).split(b"\n")
    last = len(lines) - 1  # lines[last] is b"" when the file ends in a newline
    records: list[dict[str, Any]] = []
    torn = 0
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            if i == last or (i + 1 < last and lines[i + 1] == b""):
                torn += 1
                continue
            raise CorruptFileError(f"{_show(path)}: line {i + 1}: invalid JSON ({e})") from e
        if not isinstance(rec, dict):
            raise CorruptFileError(
                f"{_show(path)}: line {i + 1}: expected a JSON object, got {type(rec).__name__}"
            )
        records.append(rec)
    return records, torn


def read_jsonl(path: PathLike) -> list[dict[str, Any]]:
    """Records of a JSONL log, skipping a torn last line (see ``read_jsonl_ex``)."""
    return read_jsonl_ex(path)[0]


# ---------------------------------------------------------------------------- CSV


def write_csv(path: PathLike, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write a CSV file (header row first) atomically; every row must match the header."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise StoreError(
                f"{_show(path)}: row {i} has {len(row)} values for {len(header)} columns"
            )
        writer.writerow(row)
    atomic_write_text(path, buf.getvalue())


# ---------------------------------------------------------------------------- tensors


def write_tensors(
    path: PathLike,
    tensors: Mapping[str, torch.Tensor],
    metadata: dict[str, str] | None = None,
) -> None:
    """Write tensors (moved to CPU, made contiguous) as one safetensors file, atomically."""
    prepared: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise StoreError(f"{_show(path)}: {name!r} is a {type(t).__name__}, not a tensor")
        t = t.detach().to("cpu").contiguous()
        ptr = t.untyped_storage().data_ptr()
        if ptr and ptr in seen:  # safetensors refuses two entries on one storage
            t = t.clone()
        seen.add(t.untyped_storage().data_ptr())
        prepared[name] = t
    for k, v in (metadata or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise StoreError(f"{_show(path)}: metadata {k!r} must map str to str, got {v!r}")
    try:
        data = _st_save(prepared, metadata=metadata)
    except (SafetensorError, RuntimeError, ValueError, TypeError) as e:
        raise StoreError(f"{_show(path)}: cannot serialise tensors ({e})") from e
    atomic_write_bytes(path, data)


def read_tensors(path: PathLike, *, check_finite: bool = True) -> dict[str, torch.Tensor]:
    """Read a safetensors file; ``CorruptFileError`` for a bad/truncated file or, with
    ``check_finite``, any NaN/inf in a floating-point tensor."""
    data = _read_bytes(path)
    try:
        tensors: dict[str, torch.Tensor] = _st_load(data)
    except (SafetensorError, RuntimeError, ValueError) as e:
        raise CorruptFileError(f"{_show(path)}: invalid safetensors file ({e})") from e
    if check_finite:
        for name, t in tensors.items():
            if (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
                n = int((~torch.isfinite(t)).sum())
                raise CorruptFileError(
                    f"{_show(path)}: tensor {name!r} has {n} non-finite value(s) (NaN/inf)"
                )
    return tensors


def read_tensor_metadata(path: PathLike) -> dict[str, str]:
    """The ``metadata`` stored by ``write_tensors``, read from the header alone."""
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n)) if n <= 100_000_000 else None
    except FileNotFoundError as e:
        raise NotFoundError(f"{_show(path)}: file not found") from e
    except (OSError, struct.error, ValueError) as e:
        raise CorruptFileError(f"{_show(path)}: invalid safetensors header ({e})") from e
    if not isinstance(header, dict):
        raise CorruptFileError(f"{_show(path)}: invalid safetensors header")
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise CorruptFileError(f"{_show(path)}: invalid safetensors __metadata__")
    return {str(k): str(v) for k, v in meta.items()}
