"""Content-addressed tensor blobs: dedupe, sharing across forks, corruption, gc."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ttt.store import (
    ArtifactStore,
    CorruptFileError,
    InvalidIdError,
    NotFoundError,
    tensor_digest,
)


def test_same_tensor_stored_once(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    x = torch.randn(16, 8)
    d1, d2, d3 = store.put_blob(x), store.put_blob(x), store.put_blob(x.clone())
    assert d1 == d2 == d3 and len(d1) == 64
    assert store.blob_stats()["count"] == 1
    assert store.blob_path(d1) == tmp_path.resolve() / "blobs" / d1[:2] / f"{d1}.safetensors"
    assert torch.equal(store.get_blob(d1), x)


def test_digest_covers_dtype_and_shape() -> None:
    x = torch.arange(6, dtype=torch.float32)
    digests = {
        tensor_digest(x),
        tensor_digest(x.reshape(2, 3)),
        tensor_digest(x.to(torch.float64)),
        tensor_digest(x.view(torch.int32)),  # same bytes, other dtype
    }
    assert len(digests) == 4
    y = torch.randn(3, 5)
    assert tensor_digest(y.T) == tensor_digest(y.T.contiguous())


def test_forks_share_unchanged_weights(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    parent = {"W_u": torch.randn(8, 4), "B": torch.randn(8), "W_o": torch.randn(4, 8)}
    refs_parent = store.put_tensor_dict(parent)
    child = {**parent, "B": parent["B"] + 1.0}  # the fork changed one tensor
    refs_child = store.put_tensor_dict(child)
    assert refs_child["W_u"] == refs_parent["W_u"] and refs_child["W_o"] == refs_parent["W_o"]
    assert refs_child["B"] != refs_parent["B"]
    assert store.blob_stats()["count"] == 4
    back = store.get_tensor_dict(refs_child)
    assert all(torch.equal(back[k], child[k]) for k in child)


def test_corrupt_blob_detected(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    digest = store.put_blob(torch.randn(32))
    path = store.blob_path(digest)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # flip bits in the tensor data: still a valid safetensors file
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="not to its name") as info:
        store.get_blob(digest)
    assert str(path) in str(info.value)
    path.write_bytes(bytes(data[:20]))
    with pytest.raises(CorruptFileError, match="invalid safetensors"):
        store.get_blob(digest)


def test_bad_and_missing_digests(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    for bad in ["", "../" + "a" * 61, "A" * 64, "g" * 64, "a" * 63]:
        with pytest.raises(InvalidIdError, match="invalid blob digest"):
            store.get_blob(bad)
    with pytest.raises(NotFoundError, match=r"blob a{64} not found"):
        store.get_blob("a" * 64)


def test_nan_blobs_are_allowed(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    x = torch.tensor([float("nan"), 1.0])
    assert torch.equal(store.get_blob(store.put_blob(x)).isnan(), x.isnan())


def test_stats_and_gc(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    assert store.blob_stats() == {"count": 0, "bytes": 0}
    keep = store.put_blob(torch.ones(3))
    store.put_blob(torch.zeros(3))
    (store.blob_path(keep).parent / ".tmp-x.safetensors.1").write_bytes(b"junk")
    stats = store.blob_stats()
    assert stats["count"] == 2 and stats["bytes"] > 0
    assert store.gc_blobs({keep}) == 1
    assert store.blob_stats()["count"] == 1 and torch.equal(store.get_blob(keep), torch.ones(3))
