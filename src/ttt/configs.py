"""Building config dataclasses from JSON objects, with errors that name the field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def from_dict(cls: type[T], d: Any, what: str) -> T:
    """``cls(**d)`` for a dataclass ``cls``; ``ValueError`` naming ``what`` when ``d`` is not
    an object, has unknown keys (listing the known ones), or does not fit the constructor.
    Field validation stays in each dataclass's ``__post_init__``."""
    if not isinstance(d, Mapping):
        raise ValueError(f"{what} must be an object, got {type(d).__name__}")
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(
            f"{what}: unknown field(s) {', '.join(map(str, unknown))} "
            f"(known: {', '.join(sorted(known))})"
        )
    try:
        return cls(**dict(d))
    except TypeError as exc:
        raise ValueError(f"{what}: {exc}") from exc
