"""Byte-level BPE tokenizer (HF ``tokenizers``), trained by our code, saved as ``tokenizer.json``.

Every Unicode string round-trips exactly: the byte-level pre-tokenizer maps each UTF-8 byte to
a printable symbol, no normaliser runs, and the byte-level decoder maps the symbols back. The
special tokens ``<|pad|>``, ``<|bos|>``, ``<|eos|>``, ``<|mask|>`` are ids 0-3; they are added
by our code only, never matched inside user text (``encode_special_tokens``), so the text
``"<|eos|>"`` is encoded as ordinary bytes and cannot end a document or inject a control token.

    tok = BpeTokenizer.train(texts, vocab_size=512)
    ids = tok.encode("the cat sat")                 # list[int], no special tokens
    assert tok.decode(ids) == "the cat sat"
    tok.save(model_dir / "tokenizer.json"); tok = BpeTokenizer.load(model_dir / "tokenizer.json")
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from ttt.store import CorruptFileError, NotFoundError, atomic_write_text

PAD, BOS, EOS, MASK = "<|pad|>", "<|bos|>", "<|eos|>", "<|mask|>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, BOS, EOS, MASK)
MIN_VOCAB = len(SPECIAL_TOKENS) + 256  # specials + every byte


class BpeTokenizer:
    """A thin wrapper over ``tokenizers.Tokenizer`` with our special-token contract."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        # Special tokens in user text are plain text: decoding stays lossless and no input
        # can forge a bos/eos/mask.
        tokenizer.encode_special_tokens = True
        self._tok = tokenizer
        ids = [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS]
        if ids != list(range(len(SPECIAL_TOKENS))):
            raise ValueError(
                f"tokenizer must have special tokens {SPECIAL_TOKENS} as ids 0-3, got ids {ids}"
            )
        self.pad_id, self.bos_id, self.eos_id, self.mask_id = range(len(SPECIAL_TOKENS))

    # ------------------------------------------------------------------------ train / io

    @classmethod
    def train(
        cls, texts: Iterable[str], *, vocab_size: int = 4096, min_frequency: int = 2
    ) -> BpeTokenizer:
        """Train byte-level BPE on ``texts`` (any iterable; streamed, never all in memory)."""
        if vocab_size < MIN_VOCAB:
            raise ValueError(f"vocab_size must be >= {MIN_VOCAB} (256 bytes + 4 specials)")
        if vocab_size > 2**32 - 1:
            raise ValueError(f"vocab_size must fit in uint32, got {vocab_size}")
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer=trainer)
        return cls(tok)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BpeTokenizer:
        p = Path(path)
        if not p.is_file():
            raise NotFoundError(f"{p.resolve()}: tokenizer file not found")
        try:
            tok = Tokenizer.from_str(p.read_text(encoding="utf-8"))
        except Exception as e:  # tokenizers raises a bare Exception for malformed JSON
            raise CorruptFileError(f"{p.resolve()}: not a valid tokenizer.json ({e})") from e
        try:
            return cls(tok)
        except ValueError as e:
            raise CorruptFileError(f"{p.resolve()}: {e}") from e

    def to_json(self) -> str:
        return self._tok.to_str(pretty=True)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``tokenizer.json`` atomically."""
        atomic_write_text(path, self.to_json())

    # ------------------------------------------------------------------------ use

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size(with_added_tokens=True))

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no bos/eos added). ``ValueError`` for lone surrogates."""
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(
                f"text is not valid Unicode for UTF-8 (lone surrogate at index {e.start})"
            ) from e
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Token ids and each token's (start, end) character span in ``text``."""
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(
                f"text is not valid Unicode for UTF-8 (lone surrogate at index {e.start})"
            ) from e
        enc = self._tok.encode(text, add_special_tokens=False)
        return list(enc.ids), [(int(a), int(b)) for a, b in enc.offsets]

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [list(e.ids) for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``; special tokens decode to their literal names. Bytes that do not form
        valid UTF-8 (possible in sampled text) become U+FFFD."""
        return str(self._tok.decode(list(ids), skip_special_tokens=False))

    def token_str(self, token_id: int) -> str:
        """The text one token stands for (for displays)."""
        return self.decode([token_id])

    def fingerprint(self) -> str:
        """sha256 of the canonical tokenizer JSON (recorded with the model)."""
        import hashlib

        canon = json.dumps(json.loads(self._tok.to_str()), sort_keys=True)
        return hashlib.sha256(canon.encode()).hexdigest()
