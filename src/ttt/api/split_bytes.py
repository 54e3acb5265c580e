"""Bytes and tokens of a text model's validation split, for bits per byte.

Per-token losses of models with different tokenizers cannot be compared (a token of a
300-entry vocabulary covers fewer bytes than one of a 2,048-entry vocabulary); bits per byte
can: ``bpb = val_loss / ln 2 * val_tokens / val_bytes``, with ``val_tokens`` and
``val_bytes`` counted over the same validation split the loss is measured on.

The bytes are counted from the stored files alone (``tokens.json``, ``val_tokens.bin``,
``tokenizer.json``, read with the ``tokenizers`` library): for a byte-level BPE every token
stands for a fixed byte string (its byte-level symbols, one per byte) and special tokens
(``<|bos|>``, ``<|eos|>`` ...) for none, so the split's bytes are a bincount away from its
token file. Other tokenizer types give ``None`` (not computed, never guessed). The loss is
the trainer's mean over its fixed evaluation windows of that split, so the ratio of the whole
split stands in for the windows' own. Results are cached by the token file's (path, mtime,
size).

    split = validation_split(model_dir)   # {"val_tokens": 56605, "val_bytes": 74346} or None
    bpb = bits_per_byte(val_loss, split)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ttt.api.cache import FileCache

_CACHE = FileCache(capacity=64)


def _token_bytes(tokenizer_json: Path) -> np.ndarray | None:
    """Bytes each token id stands for (0 for special tokens); None unless byte-level BPE."""
    from tokenizers import Tokenizer

    spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    decoder = spec.get("decoder") or {}
    if decoder.get("type") != "ByteLevel":
        return None
    tok = Tokenizer.from_file(str(tokenizer_json))
    special = {int(a["id"]) for a in spec.get("added_tokens", []) if a.get("special")}
    n = tok.get_vocab_size(with_added_tokens=True)
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        piece = tok.id_to_token(i)
        out[i] = 0 if (i in special or piece is None) else len(piece)
    return out


def _count(model_dir: Path) -> dict[str, int] | None:
    info = json.loads((model_dir / "tokens.json").read_text(encoding="utf-8"))
    nbytes = _token_bytes(model_dir / "tokenizer.json")
    if nbytes is None:
        return None
    ids = np.memmap(model_dir / "val_tokens.bin", dtype=np.dtype(info["dtype"]), mode="r")
    if ids.size and int(ids.max()) >= nbytes.shape[0]:
        raise ValueError(f"{model_dir / 'val_tokens.bin'}: token id beyond the vocabulary")
    counts = np.bincount(np.asarray(ids, dtype=np.int64), minlength=nbytes.shape[0])
    return {"val_tokens": int(ids.size), "val_bytes": int(counts @ nbytes)}


def validation_split(model_dir: Path) -> dict[str, int] | None:
    """``{"val_tokens", "val_bytes"}`` of the model's validation split, or None when the
    files are missing (a model still preparing) or the tokenizer is not byte-level."""
    files = [model_dir / n for n in ("tokens.json", "val_tokens.bin", "tokenizer.json")]
    if not all(f.is_file() for f in files):
        return None
    try:
        got: dict[str, int] | None = _CACHE.get("val_split", files[1], lambda _p: _count(model_dir))
    except (OSError, ValueError, KeyError):
        return None
    return got


def bits_per_byte(val_loss: Any, split: dict[str, int] | None) -> float | None:
    """Validation loss (nats per token) as bits per byte of the same split."""
    if split is None or not isinstance(val_loss, int | float) or not split.get("val_bytes"):
        return None
    if not math.isfinite(val_loss):
        return None
    return float(val_loss) / math.log(2) * split["val_tokens"] / split["val_bytes"]
