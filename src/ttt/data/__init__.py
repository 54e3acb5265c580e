"""Labelled prompts shipped with the package (see ``README.md`` in this folder for every
source and licence), rebuilt by ``scripts/build_align_data.py``.

* ``advbench.jsonl``: the 520 AdvBench harmful behaviours (MIT), each with its ``split``;
* ``benign.jsonl``: benign requests (XSTest safe prompts, NotInject, our own), with ``split``.

Splits are fixed by the text's hash (``split_of``): 60% ``train``, 20% ``tune``, 20%
``report``. Nothing is ever trained or tuned on ``report``.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import Any

SPLITS = ("train", "tune", "report")


def split_of(text: str) -> str:
    """The split a prompt belongs to, from its text alone: stable across machines."""
    bucket = int(hashlib.sha256(b"ttt-align:" + text.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "train" if bucket < 6 else ("tune" if bucket < 8 else "report")


def load(name: str, split: str | None = None) -> list[dict[str, Any]]:
    """Rows of a shipped file (``advbench`` or ``benign``), optionally one split."""
    if name not in ("advbench", "benign"):
        raise ValueError(f"unknown data file {name!r}; known: advbench, benign")
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    text = resources.files(__name__).joinpath(f"{name}.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [r for r in rows if split is None or r["split"] == split]
