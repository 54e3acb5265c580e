"""Corpora: folders and files, the built-in offline corpus, non-UTF-8 files, the split by
document, memory-mapped token files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ttt.models.corpus import (
    Corpus,
    CorpusError,
    TokenBuffer,
    builtin_documents,
    find_files,
    write_token_files,
)
from ttt.models.tokenizer import BpeTokenizer
from ttt.store import read_json


def test_folder_is_searched_recursively_for_text_suffixes(tiny_corpus):
    files = [p.relative_to(tiny_corpus).as_posix() for p in find_files(tiny_corpus)]
    assert "sub/doc2.rst" in files and "doc0.txt" in files and "doc1.md" in files
    assert "ignored.bin" not in files and "notes.py" not in files
    assert len(files) == 6
    assert find_files(tiny_corpus) == find_files(tiny_corpus)  # a stable order


def test_scan_hashes_counts_and_is_deterministic(tiny_corpus):
    a = Corpus.from_paths([tiny_corpus]).scan()
    b = Corpus.from_paths([tiny_corpus]).scan()
    assert a["n_documents"] == 6 and a["n_chars"] > 1000
    assert a["sha256"] == b["sha256"] and a["skipped"] == []


def test_non_utf8_file_is_a_clear_error_or_skipped(tmp_path, tiny_corpus):
    bad = tmp_path / "bad.txt"
    bad.write_bytes("caf\u00e9 ok\n".encode() + b"latin-1 \xe9t\xe9\n")
    with pytest.raises(CorpusError, match=r"bad\.txt: not UTF-8.*byte offset 17"):
        Corpus.from_paths([tiny_corpus, bad]).scan()
    corpus = Corpus.from_paths([tiny_corpus, bad], on_bad_file="skip")
    manifest = corpus.scan()
    assert manifest["n_documents"] == 6
    assert manifest["skipped"][0]["document"] == "bad.txt"
    assert "not UTF-8" in manifest["skipped"][0]["reason"]


def test_missing_paths_and_empty_folders(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        Corpus.from_paths([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no corpus files"):
        Corpus.from_paths([tmp_path / "empty"])
    (tmp_path / "e.txt").write_text("")
    with pytest.raises(CorpusError, match="no non-empty documents"):
        Corpus.from_paths([tmp_path / "e.txt"]).scan()


def test_builtin_corpus_needs_no_download_and_is_deterministic():
    a = Corpus.builtin().scan()
    b = Corpus.builtin().scan()
    assert a["sha256"] == b["sha256"]
    assert a["n_documents"] > 50 and a["n_chars"] > 200_000
    names = [d.name for d in builtin_documents()]
    assert any(n.startswith("pydoc-topic/") for n in names)
    assert "stdlib/json" in names


def test_large_file_is_streamed_in_pieces(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("line é\n" * 50_000, encoding="utf-8")  # multi-byte chars across pieces
    doc = Corpus.from_paths([big]).documents[0]
    pieces = list(doc.chunks(chunk_bytes=4096))
    assert len(pieces) > 50
    assert "".join(pieces) == big.read_text(encoding="utf-8")
    assert all(p.endswith("\n") for p in pieces)


def test_split_by_document_and_token_files(tiny_corpus, tmp_path):
    corpus = Corpus.from_paths([tiny_corpus])
    corpus.scan()
    tok = BpeTokenizer.train(corpus.iter_text(), vocab_size=300)
    info = write_token_files(corpus, tok, tmp_path, val_fraction=0.3)
    assert read_json(tmp_path / "tokens.json") == {"schema_version": 1, **info}
    assert info["split"] == "document" and info["dtype"] == "<u2"
    assert info["val_documents"] >= 1 and info["train_documents"] >= 1
    assert info["train_documents"] + info["val_documents"] == 6
    train = TokenBuffer.open(tmp_path, "train")
    val = TokenBuffer.open(tmp_path, "val")
    assert len(train) == info["train_tokens"] and len(val) == info["val_tokens"]
    # 2 bytes per token on disk; documents are <|bos|> ... <|eos|>.
    assert (tmp_path / "train_tokens.bin").stat().st_size == 2 * len(train)
    data = np.fromfile(tmp_path / "train_tokens.bin", dtype="<u2")
    assert data[0] == tok.bos_id and data[-1] == tok.eos_id
    assert (data == tok.bos_id).sum() == info["train_documents"]
    # Every document sits whole in exactly one split.
    train_text = tok.decode(data.tolist())
    val_text = tok.decode(np.fromfile(tmp_path / "val_tokens.bin", dtype="<u2").tolist())
    in_val = 0
    for doc in corpus.documents:
        text = "".join(doc.chunks())
        assert (text in val_text) != (text in train_text), doc.name
        in_val += text in val_text
    assert in_val == info["val_documents"]
    # Windows: inputs and next-token targets.
    x, y = train.sample(4, 16, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 16) and x.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])
    assert torch.equal(val.eval_starts(8, 16), val.eval_starts(8, 16))


def test_single_document_is_split_at_its_tail(tmp_path):
    f = tmp_path / "one.txt"
    f.write_text("one two three four five six seven\n" * 200)
    corpus = Corpus.from_paths([f])
    corpus.scan()
    tok = BpeTokenizer.train(corpus.iter_text(), vocab_size=280)
    info = write_token_files(corpus, tok, tmp_path / "m", val_fraction=0.1)
    assert info["split"] == "tail-of-single-document"
    total = info["train_tokens"] + info["val_tokens"]
    assert info["val_tokens"] == int(total * 0.1)


def test_too_few_tokens_for_a_window(tmp_path, tiny_corpus):
    corpus = Corpus.from_paths([tiny_corpus])
    corpus.scan()
    tok = BpeTokenizer.train(corpus.iter_text(), vocab_size=300)
    write_token_files(corpus, tok, tmp_path)
    buf = TokenBuffer.open(tmp_path, "val")
    with pytest.raises(CorpusError, match="too few"):
        buf.sample(2, len(buf) + 5, torch.Generator())
