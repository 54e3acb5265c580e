"""All-or-nothing writes of several files of one folder (a redo journal, replayed on open).

Each file of the store is replaced atomically on its own (``ttt.store.atomic_write_bytes``),
but a Nano checkpoint changes several files that only make sense together (fast weights,
optimiser, resume point, session metrics, the run's progress, the weight history). A kill
between two of those writes would leave a session whose files disagree. ``FolderJournal``
makes such a group one transaction, the way SQLite's journal does:

1. **stage**: every new file is written completely (and fsynced) under ``<folder>/.pending/``;
2. **commit**: ``.pending/COMMIT.json`` is written atomically. It lists each staged file and
   its target, plus an optional ``extra`` record for an idempotent ``on_apply`` hook (e.g.
   "append these history lines"). Writing it is the commit point;
3. **apply**: each staged file is ``os.replace``d onto its target, ``on_apply(extra)`` runs,
   then ``COMMIT.json`` is removed and ``.pending/`` deleted.

``recover(folder, on_apply)`` runs whenever a writer opens the folder (under the folder's
lock): with a ``COMMIT.json`` it rolls the transaction forward (step 3 is idempotent: a
staged file that is gone was already moved), without one it deletes the staged files (the
transaction never happened). A kill at any instant therefore leaves the previous or the
next version of the whole group, never a mix, once the folder has been opened again.

    j = FolderJournal(d)
    j.stage_json("metrics.json", metrics)
    j.stage_tensors("plastic_state.safetensors", weights)
    j.commit(extra={"history": records}, on_apply=append_history)

Only one writer may use a folder's journal at a time (hold the item's lock). Targets are
relative paths inside the folder; a journal naming anything else is refused as corrupt.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from ttt.store import (
    CorruptFileError,
    atomic_write_bytes,
    atomic_write_text,
    read_json,
    write_json,
    write_json_list,
    write_tensors,
)
from ttt.store.io import fsync_dir

PENDING = ".pending"
COMMIT = "COMMIT.json"

ApplyHook = Callable[[Mapping[str, Any]], None]


def _target(folder: Path, rel: str) -> Path:
    """``folder / rel`` for a plain relative path that stays inside ``folder``."""
    p = Path(rel)
    if p.is_absolute() or not p.parts or any(part in ("", ".", "..") for part in p.parts):
        raise CorruptFileError(f"{folder / PENDING / COMMIT}: bad target path {rel!r}")
    if p.parts[0] == PENDING:
        raise CorruptFileError(f"{folder / PENDING / COMMIT}: target inside {PENDING}: {rel!r}")
    return folder / p


class FolderJournal:
    """Stage files, then commit them to ``folder`` as one all-or-nothing write."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.pending = self.folder / PENDING
        self.files: list[tuple[str, str]] = []  # (staged name, target relative path)

    def _stage_path(self, rel: str) -> Path:
        _target(self.folder, rel)  # validate early
        if any(t == rel for _, t in self.files):
            raise ValueError(f"{rel!r} is staged twice in one transaction")
        if not self.files and self.pending.exists():
            if (self.pending / COMMIT).exists():
                raise RuntimeError(
                    f"{self.pending}: a committed transaction is not applied yet; call recover() "
                    "when opening the folder, before staging"
                )
            # Left over from a writer that died before its commit point: not a transaction.
            shutil.rmtree(self.pending)
        name = f"{len(self.files):04d}.stage"
        self.files.append((name, rel))
        return self.pending / name

    def stage_bytes(self, rel: str, data: bytes) -> None:
        atomic_write_bytes(self._stage_path(rel), data)

    def stage_text(self, rel: str, text: str) -> None:
        atomic_write_text(self._stage_path(rel), text)

    def stage_json(self, rel: str, obj: Mapping[str, Any]) -> None:
        write_json(self._stage_path(rel), obj)

    def stage_json_list(self, rel: str, items: list[Any]) -> None:
        write_json_list(self._stage_path(rel), items)

    def stage_tensors(
        self, rel: str, tensors: Mapping[str, torch.Tensor], metadata: dict[str, str] | None = None
    ) -> None:
        write_tensors(self._stage_path(rel), tensors, metadata=metadata)

    def commit(
        self, *, extra: Mapping[str, Any] | None = None, on_apply: ApplyHook | None = None
    ) -> None:
        """Write the commit record (the commit point), then apply the transaction."""
        self.pending.mkdir(parents=True, exist_ok=True)
        write_json(
            self.pending / COMMIT,
            {"files": [list(f) for f in self.files], "extra": dict(extra or {})},
        )
        self.files = []
        apply_pending(self.folder, on_apply)


def apply_pending(folder: Path, on_apply: ApplyHook | None = None) -> bool:
    """Roll a committed transaction forward; returns whether there was one."""
    pending = Path(folder) / PENDING
    commit = pending / COMMIT
    if not commit.is_file():
        return False
    rec = read_json(commit)
    files = rec.get("files")
    if not isinstance(files, list) or not all(
        isinstance(f, list) and len(f) == 2 and all(isinstance(x, str) for x in f) for f in files
    ):
        raise CorruptFileError(f"{commit}: 'files' must be a list of [staged, target] pairs")
    touched: set[Path] = set()
    for name, rel in files:
        if "/" in name or name.startswith("."):
            raise CorruptFileError(f"{commit}: bad staged name {name!r}")
        src, dst = pending / name, _target(Path(folder), rel)
        if src.exists():  # gone: already moved by an earlier, interrupted apply
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            touched.add(dst.parent)
    for parent in touched:
        fsync_dir(parent)
    if on_apply is not None:
        on_apply(rec.get("extra") or {})
    os.unlink(commit)  # the transaction is done; what is left in .pending is garbage
    shutil.rmtree(pending, ignore_errors=True)
    return True


def recover(folder: Path, on_apply: ApplyHook | None = None) -> str | None:
    """Settle the journal of ``folder`` (call with the folder's writer lock held).

    Returns ``"rolled_forward"``, ``"rolled_back"`` or None when there was nothing to do.
    """
    pending = Path(folder) / PENDING
    if not pending.exists():
        return None
    if apply_pending(folder, on_apply):
        return "rolled_forward"
    shutil.rmtree(pending, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        fsync_dir(Path(folder))
    return "rolled_back"


def has_pending(folder: Path) -> bool:
    return (Path(folder) / PENDING).exists()
