"""Config dataclasses from JSON objects, field validators, and deep merging of overrides.

Every config dataclass validates its fields in ``__post_init__`` with the checkers below; a
bad value raises ``ValueError`` naming the field and the value, so the same message reaches
the CLI (``--set``), the API (422) and a file on disk:

    check_int("plasticity.chunk", self.chunk, lo=2, hi=4096)
    check_float("grad_norm_robust_z.z_max", self.z_max, lo=0, lo_open=True, hi=1e6)

Overrides of nested configs merge deeply (``deep_merge``): ``{"checks": {"pre": [...]}}``
replaces the pre-checks and keeps the post-checks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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


def _range(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    a = "-inf" if lo is None else f"{lo:g}"
    b = "inf" if hi is None else f"{hi:g}"
    return f"{left}{a}, {b}{right}"


def check_int(what: str, v: Any, *, lo: int | None = None, hi: int | None = None) -> int:
    """An int (not a bool, not a float) in [lo, hi]."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{what} must be an integer in {_range(lo, hi, False, False)}, got {v!r}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{what} must be an integer in {_range(lo, hi, False, False)}, got {v!r}")
    return v


def check_float(
    what: str,
    v: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """A finite number (int or float, not a bool) in the given range."""
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    if ok:
        if lo is not None and (v < lo or (lo_open and v == lo)):
            ok = False
        if hi is not None and (v > hi or (hi_open and v == hi)):
            ok = False
    if not ok:
        raise ValueError(
            f"{what} must be a finite number in {_range(lo, hi, lo_open, hi_open)}, got {v!r}"
        )
    return float(v)


def check_bool(what: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"{what} must be true or false, got {v!r}")
    return v


def check_choice(what: str, v: Any, choices: Sequence[Any]) -> Any:
    if not isinstance(v, str | int | float | type(None)) or v not in choices:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, choices))}, got {v!r}")
    return v


def check_str(what: str, v: Any, *, max_len: int = 200) -> str:
    if not isinstance(v, str) or not v or len(v) > max_len:
        raise ValueError(f"{what} must be a non-empty string (at most {max_len}), got {v!r}")
    return v


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in: nested objects merge key by key, any other value
    (numbers, strings, lists) replaces; None values in ``overrides`` are ignored."""
    out = dict(base)
    for k, v in (overrides or {}).items():
        if v is None:
            continue
        old = out.get(k)
        out[k] = deep_merge(old, v) if isinstance(v, Mapping) and isinstance(old, Mapping) else v
    return out
