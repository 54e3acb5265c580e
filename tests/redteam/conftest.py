"""Fixtures of the red-team tests: the tiny trained model of the text tests (real training),
copied into a fresh artifact root per test so that runs never see each other."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

_TEXT_CONFTEST = Path(__file__).resolve().parents[1] / "text" / "conftest.py"
_spec = importlib.util.spec_from_file_location("_ttt_text_conftest", _TEXT_CONFTEST)
assert _spec is not None and _spec.loader is not None
_text_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_text_conftest)
write_tiny_corpus = _text_conftest.write_tiny_corpus


@pytest.fixture(scope="session")
def tiny_lm_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An artifact root with one completed, promoted tiny model ``tiny-lm`` (as in
    tests/text/conftest.py: the same corpus writer and ``train_model``)."""
    from ttt.store import ArtifactStore
    from ttt.text.corpus import Corpus
    from ttt.text.train import train_model

    corpus = write_tiny_corpus(tmp_path_factory.mktemp("rt_corpus") / "texts")
    root = tmp_path_factory.mktemp("rt_lm_root")
    train_model(
        ArtifactStore(root),
        corpus=Corpus.from_paths([corpus]),
        preset="tiny",
        model_id="tiny-lm",
    )
    return root


@pytest.fixture()
def rt_store(tiny_lm_root: Path, tmp_path: Path):
    """A fresh artifact root holding a copy of the tiny model."""
    from ttt.store import ArtifactStore

    root = tmp_path / "artifacts"
    shutil.copytree(tiny_lm_root, root)
    return ArtifactStore(root)
