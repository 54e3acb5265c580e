"""Shared fixtures: artifact roots filled by the real code on tiny settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Small tensors: one thread is faster and keeps results independent of the machine's cores.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_base_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An artifact root with one tiny pretrained Nano base (made by the real pretraining)."""
    from ttt.nano.base import pretrain_base
    from ttt.store import ArtifactStore

    root = tmp_path_factory.mktemp("tiny_base")
    pretrain_base(ArtifactStore(root), preset="tiny", seed=0, base_id="tiny-base")
    return root


@pytest.fixture()
def store(tiny_base_root: Path, tmp_path: Path):
    """A fresh artifact root that shares the tiny base (copied, never mutated)."""
    import shutil

    from ttt.store import ArtifactStore

    root = tmp_path / "artifacts"
    shutil.copytree(tiny_base_root, root)
    os.environ.pop("ARTIFACTS_ROOT", None)
    return ArtifactStore(root)
