"""Store errors: every failure in ``ttt.store`` raises a ``StoreError`` subclass.

Messages always name the offending file, id or field, so callers (CLI, API) can show them
as they are. The API maps ``NotFoundError`` to 404, ``InvalidIdError``/``PathEscapeError``
to 400, ``AlreadyExistsError`` and ``LockTimeoutError`` to 409, the rest to 500.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every artifact-store error."""


class InvalidIdError(StoreError, ValueError):
    """An id, kind or file name that is not allowed (see ``ttt.store.ids``)."""


class PathEscapeError(StoreError, ValueError):
    """A path that resolves (following symlinks) outside the artifact root."""


class CorruptFileError(StoreError):
    """A file that exists but cannot be read: bad JSON, bad safetensors, non-finite tensors."""


class SchemaVersionError(StoreError):
    """A JSON document with a missing or unsupported ``schema_version``."""


class NotFoundError(StoreError, KeyError):
    """An unknown id or a missing file."""

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message and wrap it in quotes.
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class AlreadyExistsError(StoreError):
    """``create_item`` on an id that is taken: items are never overwritten."""


class LockTimeoutError(StoreError):
    """Another writer held an item's lock for longer than the timeout."""
