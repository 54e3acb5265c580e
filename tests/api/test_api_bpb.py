"""Bits per byte of a text model: the validation split's bytes are exactly the UTF-8 bytes
its tokens decode to, and bpb = val_loss / ln 2 * tokens / bytes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from apitools import client_over
from tokenizers import Tokenizer

from ttt.api.split_bytes import bits_per_byte, validation_split


def test_split_bytes_equal_the_decoded_text(tiny_lm_root: Path) -> None:
    d = tiny_lm_root / "text_models" / "tiny-lm"
    info = json.loads((d / "tokens.json").read_text())
    ids = np.fromfile(d / "val_tokens.bin", dtype=np.dtype(info["dtype"])).tolist()
    tok = Tokenizer.from_file(str(d / "tokenizer.json"))
    text = tok.decode(ids, skip_special_tokens=True)
    split = validation_split(d)
    assert split == {"val_tokens": len(ids), "val_bytes": len(text.encode("utf-8"))}
    assert split["val_bytes"] > split["val_tokens"]  # a BPE token covers more than a byte


def test_listing_reports_bits_per_byte(tiny_lm_root: Path) -> None:
    for c in client_over(tiny_lm_root):
        (m,) = c.get("/api/text_models").json()["items"]
        assert m["val_bpb"] == pytest.approx(
            m["val_loss"] / math.log(2) * m["val_tokens"] / m["val_bytes"]
        )
        assert c.get("/api/text_models/tiny-lm").json()["summary"]["val_bpb"] == m["val_bpb"]


def test_no_bytes_no_figure(tmp_path: Path) -> None:
    assert validation_split(tmp_path) is None
    assert bits_per_byte(2.0, None) is None
    assert bits_per_byte(float("nan"), {"val_tokens": 1, "val_bytes": 2}) is None


def test_listing_names_the_tokenizer_and_corpus(tiny_lm_root: Path) -> None:
    meta = json.loads((tiny_lm_root / "text_models" / "tiny-lm" / "meta.json").read_text())
    for c in client_over(tiny_lm_root):
        (m,) = c.get("/api/text_models").json()["items"]
        assert m["tokenizer_sha256"] == meta["tokenizer"]["sha256"]
        assert m["corpus_sha256"] == meta["corpus"]["sha256"]
