"""The artifact store: one folder tree (``ARTIFACTS_ROOT``, default ``./artifacts``) holding
every base checkpoint, session, model, run, job, sweep and tensor blob.

    store = ArtifactStore()                       # or ArtifactStore("/data/artifacts")
    with store.lock("sessions", sid):             # one writer per item, across processes
        d = store.create_item("sessions", sid)    # never overwrites
        write_json(d / "meta.json", meta)
    refs = store.put_tensor_dict(weights)         # content-addressed blobs, shared by forks

Every path it hands out stays inside the root after following symlinks (``PathEscapeError``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

import torch
from filelock import FileLock, Timeout

from ttt.store.errors import (
    AlreadyExistsError,
    CorruptFileError,
    InvalidIdError,
    LockTimeoutError,
    NotFoundError,
    PathEscapeError,
    StoreError,
)
from ttt.store.ids import is_valid_id, validate_id, validate_name
from ttt.store.io import TMP_PREFIX, fsync_dir, read_tensors, write_tensors

T = TypeVar("T")

KINDS = (
    "base",
    "sessions",
    "text_models",
    "text_runs",
    "text_sessions",
    "redteam",
    "jobs",
    "blobs",
    "sweeps",
    "benchmarks",
)
_LABEL = {
    "base": "base",
    "sessions": "session",
    "text_models": "text model",
    "text_runs": "text run",
    "text_sessions": "text session",
    "redteam": "red-team run",
    "jobs": "job",
    "blobs": "blob",
    "sweeps": "sweep",
    "benchmarks": "benchmark result",
}
BLOB_FORMAT = "ttt-blob-v1"
_DIGEST = re.compile(r"[0-9a-f]{64}")
_BLOB_SUFFIX = ".safetensors"


def tensor_digest(tensor: torch.Tensor) -> str:
    """sha256 over (format, dtype, shape, raw bytes): equal tensors give equal digests."""
    t = tensor.detach().to("cpu").contiguous()
    h = hashlib.sha256(f"{BLOB_FORMAT}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().data)  # raw bytes, any dtype (bf16 included)
    return h.hexdigest()


class ArtifactStore:
    """Layout, ids, locks and blobs of one artifact root (created lazily on first write)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        if root is None:
            root = os.environ.get("ARTIFACTS_ROOT") or "./artifacts"
        self.root: Path = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.root)!r})"

    # ------------------------------------------------------------------------ layout

    def _inside(self, path: Path) -> Path:
        try:
            real_root, real = self.root.resolve(), path.resolve()
        except (OSError, RuntimeError) as e:  # RuntimeError: symlink loop (Python 3.11)
            raise PathEscapeError(f"{path}: cannot resolve ({e})") from e
        if not real.is_relative_to(real_root):
            raise PathEscapeError(
                f"{path}: resolves to {real}, outside the artifact root {real_root}"
            )
        return path

    def resolve(self, *parts: str) -> Path:
        """``root/part/...`` with each part one safe name, checked to stay inside the root."""
        for part in parts:
            validate_name(part, what="path component")
        return self._inside(self.root.joinpath(*parts))

    def user_path(self, raw: str, what: str) -> Path:
        """A path a user gave (``what`` names the field in errors), resolved: relative paths
        are taken relative to the root, ``~`` is expanded, symlinks are followed. It must
        lie inside the root and outside its hidden folders (``PathEscapeError``); it need not
        exist."""
        if not isinstance(raw, str) or not raw.strip() or "\x00" in raw or len(raw) > 4096:
            raise PathEscapeError(f"{what}: bad path {str(raw)[:80]!r}")
        p = Path(raw).expanduser()
        p = p if p.is_absolute() else self.root / p
        try:
            real, real_root = p.resolve(), self.root.resolve()
        except (OSError, RuntimeError) as e:  # RuntimeError: symlink loop (Python 3.11)
            raise PathEscapeError(f"{what} {raw!r}: cannot resolve ({e})") from e
        if not real.is_relative_to(real_root):
            raise PathEscapeError(f"{what} {raw!r} lies outside the artifact root {real_root}")
        hidden = self.private_part(real)
        if hidden:
            raise PathEscapeError(f"{what} {raw!r}: {hidden!r} is a hidden store folder")
        return real

    def private_part(self, real: Path) -> str | None:
        """The first hidden component (``.spool``, ``.locks``, ``.tmp-*`` temp files, ...) of
        a *resolved* path inside the root, or None (also for a path outside the root).
        Spooled private text, locks and temp files are never inputs."""
        real_root = self.root.resolve()
        if not real.is_relative_to(real_root):
            return None
        hidden = [part for part in real.relative_to(real_root).parts if part.startswith(".")]
        return hidden[0] if hidden else None

    def _kind(self, kind: str) -> str:
        if kind not in KINDS:
            raise InvalidIdError(f"unknown kind {kind!r} (expected one of: {', '.join(KINDS)})")
        return kind

    def kind_dir(self, kind: str) -> Path:
        return self.resolve(self._kind(kind))

    def item_dir(
        self, kind: str, item_id: str, *, create: bool = False, must_exist: bool = False
    ) -> Path:
        """The folder of one item; ``create`` makes it (idempotent), ``must_exist`` checks it."""
        label = _LABEL[self._kind(kind)]
        path = self.resolve(kind, validate_id(item_id, what=f"{label} id"))
        if create:
            path.mkdir(parents=True, exist_ok=True)
        if must_exist and not path.is_dir():
            raise NotFoundError(f"{label} {item_id!r} not found (no folder {path})")
        return path

    def exists(self, kind: str, item_id: str) -> bool:
        return self.item_dir(kind, item_id).is_dir()

    def list_ids(self, kind: str) -> list[str]:
        """Ids of the items of ``kind``, sorted; temp, hidden and escaping entries are skipped."""
        try:
            entries = list(os.scandir(self.kind_dir(kind)))
        except FileNotFoundError:
            return []
        ids = []
        for entry in entries:
            if not is_valid_id(entry.name) or not entry.is_dir():
                continue
            with contextlib.suppress(PathEscapeError):
                ids.append(self._inside(Path(entry.path)).name)
        return sorted(ids)

    def create_item(self, kind: str, item_id: str) -> Path:
        """Make a new item folder; ``AlreadyExistsError`` if the id is taken (never overwrite)."""
        path = self.item_dir(kind, item_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir()
        except FileExistsError as e:
            raise AlreadyExistsError(f"{_LABEL[kind]} {item_id!r} already exists: {path}") from e
        except OSError as e:
            raise StoreError(f"{path}: cannot create ({e})") from e
        fsync_dir(path.parent)
        return path

    def build_item(self, kind: str, item_id: str, build: Callable[[Path], T]) -> T:
        """Make a new item whole: ``build(folder)`` fills a temporary folder that is then
        renamed into place, so a failed or killed create leaves nothing under the id (the
        temporary name is skipped by every listing). ``AlreadyExistsError`` if the id is taken."""
        final = self.item_dir(kind, item_id)
        if final.exists():
            label = _LABEL[self._kind(kind)]
            raise AlreadyExistsError(f"{label} {item_id!r} already exists: {final}")
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f"{TMP_PREFIX}new-{item_id}-{secrets.token_hex(4)}"
        tmp.mkdir()
        try:
            out = build(tmp)
            fsync_dir(tmp)
            os.rename(tmp, final)
            fsync_dir(final.parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return out

    @contextlib.contextmanager
    def lock(self, kind: str, item_id: str, *, timeout: float = 30.0) -> Iterator[None]:
        """Exclusive writer lock on one item, across processes (re-entrant in one thread).

        The lock file is ``<root>/<kind>/.locks/<id>.lock``, outside the item folder, so an
        item can be deleted while locked. Raises ``LockTimeoutError`` after ``timeout`` s."""
        label = _LABEL[self._kind(kind)]
        validate_id(item_id, what=f"{label} id")
        lock_dir = self.resolve(kind, ".locks")
        lock_dir.mkdir(parents=True, exist_ok=True)
        path = self.resolve(kind, ".locks", f"{item_id}.lock")
        flock = FileLock(path, is_singleton=True)
        try:
            flock.acquire(timeout=timeout)
        except Timeout as e:
            raise LockTimeoutError(
                f"{label} {item_id!r} is locked by another writer (waited {timeout}s on {path})"
            ) from e
        try:
            yield
        finally:
            flock.release()

    # ------------------------------------------------------------------------ blobs

    def blob_path(self, digest: str) -> Path:
        if not isinstance(digest, str) or _DIGEST.fullmatch(digest) is None:
            raise InvalidIdError(f"invalid blob digest {digest!r}: expected 64 lowercase hex")
        return self.resolve("blobs", digest[:2], digest + _BLOB_SUFFIX)

    def put_blob(self, tensor: torch.Tensor) -> str:
        """Store a tensor under its digest (only if absent) and return the digest."""
        t = tensor.detach().to("cpu").contiguous()
        digest = tensor_digest(t)
        path = self.blob_path(digest)
        if not path.exists():  # same digest, same content: concurrent writers are harmless
            write_tensors(path, {"tensor": t}, metadata={"format": BLOB_FORMAT, "sha256": digest})
        return digest

    def get_blob(self, digest: str) -> torch.Tensor:
        """Load a blob and verify its content still hashes to its name."""
        path = self.blob_path(digest)
        if not path.is_file():
            raise NotFoundError(f"blob {digest} not found (no file {path})")
        tensors = read_tensors(path, check_finite=False)
        if set(tensors) != {"tensor"}:
            raise CorruptFileError(
                f"{path}: expected one tensor named 'tensor', got {sorted(tensors)}"
            )
        actual = tensor_digest(tensors["tensor"])
        if actual != digest:
            raise CorruptFileError(f"{path}: content hashes to {actual}, not to its name")
        return tensors["tensor"]

    def put_tensor_dict(self, tensors: Mapping[str, torch.Tensor]) -> dict[str, str]:
        """``{name: digest}`` for a dict of tensors; unchanged tensors are stored once."""
        return {name: self.put_blob(t) for name, t in tensors.items()}

    def get_tensor_dict(self, refs: Mapping[str, str]) -> dict[str, torch.Tensor]:
        return {name: self.get_blob(digest) for name, digest in refs.items()}

    def _blob_files(self) -> Iterator[tuple[str, os.DirEntry[str]]]:
        top = self.kind_dir("blobs")
        if not top.is_dir():
            return
        for sub in os.scandir(top):
            if len(sub.name) != 2 or not sub.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(sub.path):
                digest, suffix = entry.name[:64], entry.name[64:]
                ok = suffix == _BLOB_SUFFIX and _DIGEST.fullmatch(digest) is not None
                if ok and entry.is_file(follow_symlinks=False):
                    yield digest, entry

    def blob_stats(self) -> dict[str, int]:
        """``{"count": number of blobs, "bytes": their total size}``."""
        sizes = [entry.stat(follow_symlinks=False).st_size for _, entry in self._blob_files()]
        return {"count": len(sizes), "bytes": sum(sizes)}

    def gc_blobs(self, referenced: set[str]) -> int:
        """Delete blobs not in ``referenced``; returns how many. Never called automatically:
        the caller must gather every reference and keep blob writers away while it runs."""
        removed = 0
        for digest, entry in list(self._blob_files()):
            if digest not in referenced:
                os.unlink(entry.path)
                removed += 1
        return removed
