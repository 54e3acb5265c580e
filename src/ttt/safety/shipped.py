"""Reading the safety layer's JSON weight files: one the user points at, or one shipped in
the ``ttt.safety`` package (the n-gram scorer, the gate's semantic stage, the auditor's
semantic head)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any


def read_weights_file(path: str | Path) -> tuple[Any, str]:
    """(parsed JSON, where) of a weights file; ``ValueError`` naming the file if it is not
    JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8")), str(path)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc


def read_shipped(name: str, what: str, how_to_make: str) -> tuple[Any, str]:
    """(parsed JSON, where) of ``ttt/safety/<name>``; a missing file is a
    ``FileNotFoundError`` that says how to make it."""
    try:
        text = resources.files("ttt.safety").joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"the shipped {what} {name} is missing from the ttt.safety package; {how_to_make}"
        ) from exc
    return json.loads(text), f"ttt/safety/{name}"
