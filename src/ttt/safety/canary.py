"""Canaries: fixed reference inputs whose loss must not be damaged by a fast-weight write.

A canary is probed before and after every update; the engine's canary checks
(``ttt.engine.checks.CanaryDelta`` / ``CanaryRobustZ``) roll back a write that raises it too
much, and SPFW (``ttt.safety.spfw``) projects the write so that it cannot raise it to first
order. The probes follow the engine's convention (``ttt.engine.canary_probe_dict``). This
module holds the text canaries: the default set (``default_canaries()``: a handful of fixed,
varied, factual English sentences) and the check of a user's own list (``check_canaries``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_CANARIES = 16  # SPFW solves a k x k problem per write; keep k small
MAX_CANARY_CHARS = 4000

# Fixed, varied, factual sentences a small English text model should keep predicting well.
DEFAULT_CANARIES: tuple[tuple[str, str], ...] = (
    ("arithmetic", "Two plus three equals five, and ten minus four equals six."),
    ("geography", "Paris is the capital of France, and Rome is the capital of Italy."),
    ("python", "In Python, the len function returns the number of items in a list."),
    ("physics", "Water freezes at zero degrees Celsius and boils at one hundred degrees."),
    ("astronomy", "The Earth orbits the Sun once a year, and the Moon orbits the Earth."),
    ("calendar", "A week has seven days, and most years have three hundred sixty-five days."),
)


def default_canaries() -> list[str]:
    """The texts of the built-in set (arithmetic, geography, Python, physics, astronomy,
    calendar)."""
    return [t for _, t in DEFAULT_CANARIES]


def check_canaries(texts: Any, where: str = "canaries") -> list[str]:
    """``texts`` as a list of 1..16 non-empty strings of at most 4,000 characters, or
    ``ValueError`` naming ``where`` and what is wrong."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise ValueError(f"{where} must be a list of strings, got {type(texts).__name__}")
    if not 1 <= len(texts) <= MAX_CANARIES:
        raise ValueError(f"{where}: need 1..{MAX_CANARIES} texts, got {len(texts)}")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise ValueError(f"{where}[{i}] must be a non-empty string, got {t!r}")
        if len(t) > MAX_CANARY_CHARS:
            raise ValueError(f"{where}[{i}] has {len(t)} characters (max {MAX_CANARY_CHARS})")
    return list(texts)
