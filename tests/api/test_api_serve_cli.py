"""``ttt serve``: refuses a non-loopback bind without a token; starts uvicorn otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ttt.cli.serve import register


@pytest.fixture()
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Test root (keeps 'serve' a sub-command)."""

    return app


@pytest.fixture()
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    monkeypatch.delenv("TTT_API_TOKEN", raising=False)
    return calls


def test_non_loopback_without_token_refuses(cli, started, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--artifacts-root", str(tmp_path)])
    assert r.exit_code == 2
    assert "refusing to bind" in r.output
    assert started == []


def test_loopback_default(cli, started, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["serve", "--artifacts-root", str(tmp_path)])
    assert r.exit_code == 0, r.output
    (call,) = started
    assert call["host"] == "127.0.0.1" and call["port"] == 13579


def test_non_loopback_with_token_starts(cli, started, tmp_path: Path) -> None:
    args = [
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "8123",
        "--token",
        "s3cret",
        "--cors-origin",
        "http://localhost:5173",
        "--artifacts-root",
        str(tmp_path),
    ]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    (call,) = started
    assert call["host"] == "0.0.0.0" and call["port"] == 8123
    assert "s3cret" not in r.output


def test_token_from_environment(cli, started, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TTT_API_TOKEN", "from-env")
    r = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--artifacts-root", str(tmp_path)])
    assert r.exit_code == 0, r.output


def test_corpus_dir_option_reaches_the_settings(cli, started, tmp_path: Path) -> None:
    corpora = tmp_path / "corpora"
    corpora.mkdir()
    r = CliRunner().invoke(
        cli, ["serve", "--artifacts-root", str(tmp_path / "a"), "--corpus-dir", str(corpora)]
    )
    assert r.exit_code == 0, r.output
    (call,) = started
    assert call["app"].state.ctx.settings.corpus_dirs == [corpora]


def test_allowed_host_option_reaches_the_guard(cli, started, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    args = ["serve", "--artifacts-root", str(tmp_path / "a"), "--allowed-host", "lab.example"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    (call,) = started
    assert call["app"].state.ctx.settings.allowed_hosts == ["lab.example"]
    c = TestClient(call["app"], base_url="http://lab.example")
    assert c.get("/api/health").status_code == 200
    assert c.get("/api/health", headers={"Host": "other.example"}).status_code == 403


def test_bad_allowed_host_is_refused(cli, started, tmp_path: Path) -> None:
    args = ["serve", "--artifacts-root", str(tmp_path), "--allowed-host", "http://x/y"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2
    assert "allowed host" in r.output
    assert started == []
