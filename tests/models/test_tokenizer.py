"""Byte-level BPE: lossless round trip on any Unicode text, special tokens never forged."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttt.models.tokenizer import MIN_VOCAB, SPECIAL_TOKENS, BpeTokenizer
from ttt.store import CorruptFileError, NotFoundError

TRAIN_TEXT = [
    "she sells sea shells by the sea shore; the shells she sells are surely sea shells.\n",
    "def sum(xs):\n    return sum(x for x in xs)  # sums, lists, sets\n",
    "Grüße, 日本語のテキスト, emoji 🙂 and tabs\tand CRLF\r\n",
] * 20


@pytest.fixture(scope="module")
def tok() -> BpeTokenizer:
    return BpeTokenizer.train(TRAIN_TEXT, vocab_size=400)


def test_special_tokens_are_ids_0_to_3(tok):
    assert (tok.pad_id, tok.bos_id, tok.eos_id, tok.mask_id) == (0, 1, 2, 3)
    assert 300 <= tok.vocab_size <= 400


def test_lowercase_s_survives(tok):
    # The original system's tokenizer deleted every lowercase "s".
    for text in ("s", "ss", "sss s", "she sells sea shells", "Mississippi", "s\ns"):
        ids = tok.encode(text)
        assert tok.decode(ids) == text
    assert "s" in tok.decode(tok.encode("s"))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_round_trip_any_unicode(tok, text):
    assert tok.decode(tok.encode(text)) == text


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from("sS \n<|>eosbpadmk")))
def test_round_trip_s_and_special_lookalikes(tok, text):
    assert tok.decode(tok.encode(text)) == text


def test_special_token_text_is_plain_text(tok):
    for special in SPECIAL_TOKENS:
        ids = tok.encode(f"a{special}b")
        assert not set(ids) & {0, 1, 2, 3}, f"{special} was forged from user text"
        assert tok.decode(ids) == f"a{special}b"


def test_lone_surrogate_is_a_clear_error(tok):
    with pytest.raises(ValueError, match="surrogate"):
        tok.encode("ok \ud800 not ok")


def test_save_load_round_trip(tok, tmp_path):
    path = tmp_path / "tokenizer.json"
    tok.save(path)
    again = BpeTokenizer.load(path)
    text = "she sells 🙂 <|eos|>"
    assert again.encode(text) == tok.encode(text)
    assert again.fingerprint() == tok.fingerprint()


def test_training_is_deterministic():
    a = BpeTokenizer.train(TRAIN_TEXT, vocab_size=350)
    b = BpeTokenizer.train(TRAIN_TEXT, vocab_size=350)
    assert a.fingerprint() == b.fingerprint()


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="vocab_size"):
        BpeTokenizer.train(TRAIN_TEXT, vocab_size=MIN_VOCAB - 1)
    with pytest.raises(NotFoundError):
        BpeTokenizer.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CorruptFileError, match=r"bad\.json"):
        BpeTokenizer.load(bad)
