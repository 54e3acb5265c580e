"""Canaries: fixed reference inputs whose loss must not be damaged by a fast-weight write.

A canary is probed before and after every update; the engine's canary checks
(``ttt.engine.checks.CanaryDelta`` / ``CanaryRobustZ``) roll back a write that raises it too
much, and SPFW (``ttt.safety.spfw``) projects the write so that it cannot raise it to first
order. This module holds the text canaries and the model-agnostic glue:

* ``CanarySet``: a handful of fixed, varied, factual English sentences (``CanarySet.default()``)
  or a user's own list (``CanarySet.from_texts``, ``CanarySet.from_file``);
* ``canary_losses(loss_of, items)``: per-canary losses ``(S, k)`` from any ``loss_of(item)``
  (the domain owns the model: ``loss_of`` maps one tokenised canary to its loss, ``(S,)`` or a
  scalar);
* ``canary_probes(losses)``: the probe entries the engine records (``canary_loss`` = mean,
  ``canary_loss.0`` ... per canary).

    cs = CanarySet.default()
    tokens = cs.encode(tokenizer_fn)                    # list of k token sequences
    probes = canary_probes(canary_losses(loss_of, tokens))
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor

from ttt.engine.checks import canary_keys, canary_probe_dict

MAX_CANARIES = 16  # SPFW solves a k x k problem per write; keep k small
MAX_CANARY_CHARS = 4000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

# Fixed, varied, factual sentences a small English text model should keep predicting well.
DEFAULT_CANARIES: tuple[tuple[str, str], ...] = (
    ("arithmetic", "Two plus three equals five, and ten minus four equals six."),
    ("geography", "Paris is the capital of France, and Rome is the capital of Italy."),
    ("python", "In Python, the len function returns the number of items in a list."),
    ("physics", "Water freezes at zero degrees Celsius and boils at one hundred degrees."),
    ("astronomy", "The Earth orbits the Sun once a year, and the Moon orbits the Earth."),
    ("calendar", "A week has seven days, and most years have three hundred sixty-five days."),
)

T = TypeVar("T")


@dataclass(frozen=True)
class CanarySet:
    """k fixed canary texts (1 <= k <= 16) with short unique names."""

    texts: tuple[str, ...]
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        texts = tuple(self.texts)
        if not 1 <= len(texts) <= MAX_CANARIES:
            raise ValueError(f"canaries: need 1..{MAX_CANARIES} texts, got {len(texts)}")
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise ValueError(f"canaries.texts[{i}] must be a non-empty string, got {t!r}")
            if len(t) > MAX_CANARY_CHARS:
                raise ValueError(
                    f"canaries.texts[{i}] has {len(t)} characters (max {MAX_CANARY_CHARS})"
                )
        names = tuple(self.names) or tuple(f"canary_{i}" for i in range(len(texts)))
        if len(names) != len(texts):
            raise ValueError(f"canaries.names: {len(names)} names for {len(texts)} texts")
        for n in names:
            if not isinstance(n, str) or not _NAME.match(n):
                raise ValueError(f"canaries.names: {n!r} is not a valid name ({_NAME.pattern})")
        if len(set(names)) != len(names):
            raise ValueError(f"canaries.names must be unique, got {list(names)}")
        object.__setattr__(self, "texts", texts)
        object.__setattr__(self, "names", names)

    def __len__(self) -> int:
        return len(self.texts)

    @classmethod
    def default(cls) -> CanarySet:
        """The built-in set (arithmetic, geography, Python, physics, astronomy, calendar)."""
        return cls(
            texts=tuple(t for _, t in DEFAULT_CANARIES),
            names=tuple(n for n, _ in DEFAULT_CANARIES),
        )

    @classmethod
    def from_texts(cls, texts: Sequence[str], names: Sequence[str] | None = None) -> CanarySet:
        return cls(texts=tuple(texts), names=tuple(names or ()))

    @classmethod
    def from_file(cls, path: str | Path) -> CanarySet:
        """Load canaries: ``.jsonl`` lines ``{"text": ..., "name"?: ...}``, ``.json`` (a list
        of strings or of such objects, or ``{"canaries": [...]}``), anything else: one canary
        per non-empty line."""
        p = Path(path)
        try:
            raw = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read canaries from {p}: {exc}") from exc
        items: list[Any]
        try:
            if p.suffix.lower() == ".jsonl":
                items = [json.loads(line) for line in raw.splitlines() if line.strip()]
            elif p.suffix.lower() == ".json":
                data = json.loads(raw)
                items = data.get("canaries", []) if isinstance(data, dict) else data
                if not isinstance(items, list):
                    raise ValueError("expected a list of canaries")
            else:
                items = [line.strip() for line in raw.splitlines() if line.strip()]
        except (json.JSONDecodeError, ValueError) as exc:
            raise ValueError(f"{p}: not a canary list: {exc}") from exc
        return cls.from_items(items, where=str(p))

    @classmethod
    def from_items(cls, items: Sequence[Any], *, where: str = "canaries") -> CanarySet:
        """From strings or ``{"text": ..., "name"?: ...}`` objects (names default by index)."""
        texts: list[str] = []
        names: list[str] = []
        for i, it in enumerate(items):
            if isinstance(it, str):
                texts.append(it)
                names.append(f"canary_{i}")
            elif isinstance(it, Mapping) and isinstance(it.get("text"), str):
                texts.append(it["text"])
                names.append(str(it.get("name") or f"canary_{i}"))
            else:
                raise ValueError(f"{where}: item {i} must be a string or {{'text': ...}}")
        return cls(texts=tuple(texts), names=tuple(names))

    def to_dict(self) -> dict[str, Any]:
        return {"texts": list(self.texts), "names": list(self.names)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CanarySet:
        unknown = sorted(set(d) - {"texts", "names"})
        if unknown:
            raise ValueError(f"unknown canaries field(s): {', '.join(unknown)}")
        return cls(texts=tuple(d.get("texts", ())), names=tuple(d.get("names", ())))

    def encode(self, tokenize: Callable[[str], T]) -> list[T]:
        """Tokenise every canary with the domain's tokenizer (one item per canary)."""
        return [tokenize(t) for t in self.texts]

    def probe_names(self, key: str = "canary_loss") -> dict[str, str]:
        """Probe key -> canary name (``canary_loss.0`` -> ``arithmetic``)."""
        return {f"{key}.{i}": n for i, n in enumerate(self.names)}


def default_canaries() -> list[str]:
    """The texts of ``CanarySet.default()``."""
    return list(CanarySet.default().texts)


def canary_losses(loss_of: Callable[[T], Tensor], items: Sequence[T]) -> Tensor:
    """Losses of k canaries as (S, k): ``loss_of(item)`` gives (S,) or a scalar (S = 1).

    Differentiable when ``loss_of`` is, so the same call feeds SPFW's canary gradients
    (``ttt.safety.spfw.canary_grads``); wrap it in ``torch.no_grad()`` for a probe.
    """
    if not items:
        raise ValueError("canary_losses: no canaries")
    cols = []
    for i, it in enumerate(items):
        v = loss_of(it)
        v = v.reshape(1) if v.dim() == 0 else v
        if v.dim() != 1:
            raise ValueError(f"loss_of(canary {i}) must be a scalar or (S,), got {tuple(v.shape)}")
        cols.append(v)
    sizes = {c.shape[0] for c in cols}
    if len(sizes) != 1:
        raise ValueError(f"loss_of returned different session counts per canary: {sizes}")
    return torch.stack(cols, dim=1)  # (S, k)


def canary_probes(losses: Tensor, key: str = "canary_loss") -> dict[str, Tensor]:
    """Probe entries from (S, k) losses: ``{key: mean (S,), key.0: (S,), ...}``."""
    return canary_probe_dict(losses, key)


def per_canary(probes: Mapping[str, float | None], key: str = "canary_loss") -> list[float | None]:
    """The per-canary values of a recorded probe dict (``event.probes_pre``), in order."""
    return [probes[k] for k in canary_keys(probes, key)]
