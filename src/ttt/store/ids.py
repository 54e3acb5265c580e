"""Ids and file names allowed in the artifact store, and ``new_id`` to make fresh ids.

An id is 1-64 ASCII characters ``[A-Za-z0-9._-]`` starting with a letter or digit, with no
``..`` and no trailing dot, so it is safe as one path component on every OS.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from ttt.store.errors import InvalidIdError

ID_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_ID = re.compile(ID_RE)
# A fixed file/folder name inside an item (``meta.json``, ``.locks``): one path component.
_NAME = re.compile(r"[A-Za-z0-9._-]{1,255}")
_STAMP_LEN = len("-20260101-000000-abcdef")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _problem(value: str, pattern: re.Pattern[str], max_len: int) -> str | None:
    """Why ``value`` is not allowed, or None when it is."""
    if not value:
        return "must not be empty"
    if len(value) > max_len:
        return f"must be at most {max_len} characters (got {len(value)})"
    if not value.isascii():
        return "must be ASCII (letters, digits, '.', '_', '-')"
    if ".." in value:
        return "must not contain '..'"
    if value.endswith("."):
        return "must not end with '.'"
    if pattern.fullmatch(value) is None:
        return f"must match {pattern.pattern}"
    return None


def validate_id(value: str, *, what: str = "id") -> str:
    """Return ``value`` if it is a valid id, else raise ``InvalidIdError`` saying why."""
    if not isinstance(value, str):
        raise InvalidIdError(f"invalid {what} {_show(value)}: must be a string")
    problem = _problem(value, _ID, 64)
    if problem is not None:
        raise InvalidIdError(f"invalid {what} {_show(value)}: {problem}")
    return value


def is_valid_id(value: object) -> bool:
    """True when ``value`` is a valid id (never raises)."""
    return isinstance(value, str) and _problem(value, _ID, 64) is None


def validate_name(value: str, *, what: str = "file name") -> str:
    """Return ``value`` if it is one safe path component (may start with '.'), else raise."""
    if not isinstance(value, str):
        raise InvalidIdError(f"invalid {what} {_show(value)}: must be a string")
    problem = _problem(value, _NAME, 255)  # also rejects "." and ".." (trailing dot, "..")
    if problem is not None:
        raise InvalidIdError(f"invalid {what} {_show(value)}: {problem}")
    return value


def new_id(prefix: str) -> str:
    """A fresh id: ``prefix-YYYYMMDD-HHMMSS-xxxxxx`` (UTC time, 6 random hex digits)."""
    validate_id(prefix, what="id prefix")
    if len(prefix) > 64 - _STAMP_LEN:
        raise InvalidIdError(
            f"invalid id prefix {_show(prefix)}: must be at most {64 - _STAMP_LEN} characters"
        )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return validate_id(f"{prefix}-{stamp}-{secrets.token_hex(3)}")
