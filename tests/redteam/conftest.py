"""Fixtures of the red-team tests: the session's tiny trained model (tests/conftest.py),
copied into a fresh artifact root per test so that runs never see each other."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture()
def rt_store(tiny_lm_root: Path, tmp_path: Path):
    """A fresh artifact root holding a copy of the tiny model."""
    from ttt.store import ArtifactStore

    root = tmp_path / "artifacts"
    shutil.copytree(tiny_lm_root, root)
    return ArtifactStore(root)
