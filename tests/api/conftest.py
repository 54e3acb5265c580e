"""Fixtures for the API tests: a real artifact root made by the domain code on tiny settings
(a pretrained tiny base, two sessions with a few hundred steps, a fork, a tiny sweep), and
TestClients over it."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # starlette asks for httpx2; plain httpx (a pinned dev dependency) still works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from apitools import BASE_URL, make_settings  # the settings every API test uses

from ttt.api.app import create_app
from ttt.api.settings import ApiSettings

# Ids of the api_root fixture's items (test_api_read_endpoints.py uses the same).
SESSION_A, SESSION_B, FORK = "sess-a", "sess-b", "sess-a-fork"


@pytest.fixture(scope="session")
def api_root(tiny_base_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read-only for tests: sessions, runs, a fork and a sweep written by the real code."""
    from ttt.nano.session import create_session, fork_session, run_session
    from ttt.nano.sweep import run_sweep
    from ttt.store import ArtifactStore

    root = tmp_path_factory.mktemp("api") / "artifacts"
    shutil.copytree(tiny_base_root, root)
    store = ArtifactStore(root)
    create_session(store, session_id=SESSION_A, mu=0.1, seed=1)
    run_session(store, SESSION_A, steps=320, run_id="run-a1")
    create_session(store, session_id=SESSION_B, mu=0.2, env_mode="nonlinear", seed=2)
    run_session(store, SESSION_B, steps=200, run_id="run-b1")
    fork_session(store, SESSION_A, from_update=2, new_session_id=FORK)
    run_sweep(store, n_sessions=2, steps=48, sweep_id="sweep-1")
    return root


@pytest.fixture(name="make_settings")
def make_settings_fixture() -> Callable[..., ApiSettings]:
    return make_settings


@pytest.fixture(scope="session")
def client(api_root: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(api_root)), base_url=BASE_URL) as c:
        yield c


@pytest.fixture()
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """TestClients with custom settings over an empty root (closed after the test)."""
    clients: list[TestClient] = []

    def make(root: Path | None = None, **kw: Any) -> TestClient:
        c = TestClient(
            create_app(make_settings(root or tmp_path / "artifacts", **kw)), base_url=BASE_URL
        )
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)
