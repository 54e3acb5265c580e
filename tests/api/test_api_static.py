"""The built dashboard at /: files, client-side-routing fallback, 404 for missing assets."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def dist(tmp_path: Path) -> Path:
    d = tmp_path / "dist"
    (d / "assets").mkdir(parents=True)
    (d / "index.html").write_text("<html>dashboard index</html>")
    (d / "assets" / "app-123.js").write_text("console.log('hi')")
    (d / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("top secret")
    return d


def test_index_and_assets(make_client, dist: Path) -> None:
    c = make_client(dashboard_dist=dist)
    r = c.get("/")
    assert r.status_code == 200 and "dashboard index" in r.text
    a = c.get("/assets/app-123.js")
    assert a.status_code == 200 and "console.log" in a.text
    assert "immutable" in a.headers["cache-control"]
    assert c.get("/favicon.svg").status_code == 200


@pytest.mark.parametrize("route", ["/nano", "/nano/sessions/sess-a", "/sessions/nano-1.2/weights"])
def test_client_routes_fall_back_to_index(make_client, dist: Path, route: str) -> None:
    r = make_client(dashboard_dist=dist).get(route)
    assert r.status_code == 200
    assert "dashboard index" in r.text
    assert r.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["/assets/missing.js", "/missing.css", "/assets/nested/x"])
def test_missing_assets_are_404(make_client, dist: Path, path: str) -> None:
    r = make_client(dashboard_dist=dist).get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    "path", ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt"]
)
def test_static_traversal_is_blocked(make_client, dist: Path, path: str) -> None:
    r = make_client(dashboard_dist=dist).get(path)
    assert "top secret" not in r.text


def test_static_symlink_out_of_dist_is_blocked(make_client, dist: Path) -> None:
    (dist / "leak.txt").symlink_to(dist.parent / "secret.txt")
    r = make_client(dashboard_dist=dist).get("/leak.txt")
    assert r.status_code == 404
    assert "top secret" not in r.text


def test_post_to_static_is_405(make_client, dist: Path) -> None:
    r = make_client(dashboard_dist=dist).post("/nano")
    assert r.status_code == 405


def test_missing_dist_says_how_to_build(make_client, tmp_path: Path) -> None:
    r = make_client(dashboard_dist=tmp_path / "nothing-here").get("/")
    assert r.status_code == 503
    assert "npm run build" in r.text
    assert "/api/health" in r.text
