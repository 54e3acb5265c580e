"""Security rules: ids, traversal, body size, token, CORS, binding, JSON errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttt.api.app import create_app
from ttt.api.settings import is_loopback

BAD_IDS = [
    "%2e%2e",
    ".hidden",
    "a..b",
    "abc%0A",
    "%E2%80%AEabc",  # bidi override
    "%EF%BD%93%EF%BD%85%EF%BD%93",  # fullwidth "ses"
    "x" * 65,
    "a%00b",
    "trailing.",
]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_invalid_session_ids_are_400(client, bad: str) -> None:
    r = client.get(f"/api/sessions/{bad}")
    assert r.status_code == 400, r.text
    assert "invalid session id" in r.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/sessions/..%2F..%2Fetc%2Fpasswd",
        "/api/sessions/%2e%2e%2f%2e%2e/files",
        "/api/sessions/sess-a/runs/..%2F..%2F..%2Fbase/per_step.csv",
        "/api/sessions/sess-a/runs/%2e%2e/per_step.csv",
        "/api/bases/..%2Fsessions",
        "/api/jobs/..%2F..",
        "/api/sweeps/%2e%2e",
    ],
)
def test_traversal_never_reads_outside(client, path: str) -> None:
    r = client.get(path)
    assert r.status_code in (400, 404), r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "root:" not in r.text


def test_run_id_validated(client) -> None:
    r = client.get("/api/sessions/sess-a/runs/..%5C..%5Cx/events")
    assert r.status_code == 400
    assert "invalid run id" in r.json()["detail"]


def test_oversized_declared_body_is_413(make_client) -> None:
    c = make_client(max_body_bytes=1024)
    r = c.post(
        "/api/sessions",
        content=b"{" + b" " * 4096 + b"}",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert "too large" in r.json()["detail"]


def test_oversized_streamed_body_is_413(make_client) -> None:
    c = make_client(max_body_bytes=1024)

    def chunks():
        for _ in range(8):
            yield b" " * 512

    # A generator body is sent chunked, without Content-Length.
    r = c.post("/api/sessions", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["detail"].startswith("request body too large")


def test_small_body_passes_the_limit(make_client) -> None:
    c = make_client(max_body_bytes=1024)
    r = c.post("/api/sessions/nope/run", json={"steps": 5})
    assert r.status_code == 404


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "example.org"])
def test_non_loopback_without_token_refuses(make_settings, tmp_path: Path, host: str) -> None:
    with pytest.raises(ValueError, match="without a token"):
        create_app(make_settings(tmp_path, host=host))


def test_non_loopback_with_token_is_allowed(make_settings, tmp_path: Path) -> None:
    create_app(make_settings(tmp_path, host="0.0.0.0", token="s3cret"))


@pytest.mark.parametrize(
    ("host", "loop"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("::", False),
    ],
)
def test_is_loopback(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop


def test_token_required_on_every_api_request(make_client) -> None:
    c = make_client(token="s3cret")
    for method, path in [
        ("GET", "/api/health"),
        ("GET", "/api/sessions"),
        ("POST", "/api/jobs/x/cancel"),
        ("GET", "/api/nope"),
    ]:
        r = c.request(method, path)
        assert r.status_code == 401, (path, r.text)
        assert r.json()["detail"].startswith("missing or invalid token")
        assert r.headers["www-authenticate"] == "Bearer"
    assert c.get("/api/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/api/health", headers={"Authorization": "Basic s3cret"}).status_code == 401
    ok = c.get("/api/health", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()["status"] == "ok"


def test_query_token_only_for_streams_and_downloads(make_client) -> None:
    c = make_client(token="s3cret")
    assert c.get("/api/sessions?access_token=s3cret").status_code == 401
    # Accepted on a stream path: the request gets past auth (404: no such job).
    r = c.get("/api/jobs/nope/stream?access_token=s3cret")
    assert r.status_code == 404


def test_static_files_do_not_need_the_token(make_client) -> None:
    c = make_client(token="s3cret")
    assert c.get("/").status_code == 503  # not built, but not 401


def test_no_cors_by_default(client) -> None:
    r = client.get("/api/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    pre = client.options(
        "/api/sessions",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in pre.headers


def test_cors_when_configured(make_client) -> None:
    c = make_client(cors_origins=["http://localhost:5173"])
    r = c.get("/api/health", headers={"Origin": "http://localhost:5173"})
    assert r.headers["access-control-allow-origin"] == "http://localhost:5173"
    pre = c.options(
        "/api/sessions",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"},
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "http://localhost:5173"
    other = c.get("/api/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_cors_preflight_works_with_token(make_client) -> None:
    c = make_client(cors_origins=["http://localhost:5173"], token="s3cret")
    pre = c.options(
        "/api/sessions",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert pre.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/nope", 404),
        ("POST", "/api/nope/deeper", 404),
        ("GET", "/api", 404),
        ("DELETE", "/api/sessions", 405),
        ("PUT", "/api/health", 405),
        ("GET", "/api/sessions/nope", 404),
        ("GET", "/api/sessions/sess-a/runs/nope/per_step", 404),
        ("GET", "/api/sessions/sess-a/weights/abc", 422),
        ("GET", "/api/sessions?limit=0", 422),
        ("GET", "/api/sessions?sort=bogus", 422),
        ("POST", "/api/sessions/sess-a/run", 422),
    ],
)
def test_errors_are_json(client, method: str, path: str, status: int) -> None:
    r = client.request(method, path)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "detail" in r.json()


def test_malformed_json_body_is_422(client) -> None:
    r = client.post(
        "/api/sessions/sess-a/run",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert "detail" in r.json()
