"""Host and Origin checks (ttt.api.guard): a foreign Host is refused on every request, a
cross-site state-changing request on every route (the routes are listed from the OpenAPI
document, so a new route cannot miss the check), and nothing a refused request asked for
happens. The dashboard's own requests (same origin, or through the Vite dev proxy), token
mode and configured CORS origins keep working."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apitools import BASE_URL, make_settings
from fastapi.testclient import TestClient

from ttt.api.app import create_app
from ttt.api.guard import HostRules, same_origin, split_host
from ttt.api.openapi import openapi_schema

MUTATING = ("post", "put", "patch", "delete")
EVIL = "http://evil.example"
# Ids of things the guarded root holds, so every refused request names a real target.
PATH_VALUES = {
    "session_id": "sess-a",
    "run_id": "run-a1",
    "model_id": "tiny-lm",
    "job_id": "job-guard",
    "turn": "0",
    "k": "0",
    "base_id": "tiny-base",
    "sweep_id": "sweep-1",
    "candidate_id": "tiny-lm",
    "finding_id": "0123456789abcdef",
}
FOREIGN = {
    "foreign Origin": {"Origin": EVIL},
    "Origin null": {"Origin": "null"},
    "Origin on another port": {"Origin": "http://127.0.0.1:9999"},
    "Sec-Fetch-Site cross-site": {"Sec-Fetch-Site": "cross-site"},
    "foreign Host": {"Host": "evil.example:13579"},
    "foreign Host, own Origin": {"Host": "evil.example", "Origin": "http://evil.example"},
}


def mutating_operations() -> list[tuple[str, str]]:
    ops = [
        (method.upper(), path)
        for path, item in openapi_schema()["paths"].items()
        for method in item
        if method in MUTATING
    ]
    return sorted(ops)


def fill(path: str) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        assert name in PATH_VALUES, f"add a value for path parameter {name!r} to PATH_VALUES"
        return PATH_VALUES[name]

    return re.sub(r"\{(\w+)\}", value, path)


def tree_digest(root: Path) -> str:
    """Every path, size and content under ``root`` (what a refused request must not change)."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode() + b"\0")
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def guarded_root(
    tmp_path_factory: pytest.TempPathFactory, api_root: Path, tiny_lm_root: Path
) -> Path:
    """Nano sessions, a sweep, a promoted text model, a chat session and a queued job."""
    from ttt.store import ArtifactStore
    from ttt.text.chat import create_session as create_chat_session

    root = tmp_path_factory.mktemp("guard") / "artifacts"
    shutil.copytree(api_root, root)
    shutil.copytree(tiny_lm_root, root, dirs_exist_ok=True)
    store = ArtifactStore(root)
    create_chat_session(store, model_id="tiny-lm", session_id="sess-a")
    job_dir = store.create_item("jobs", "job-guard")
    (job_dir / "job.json").write_text(
        '{"schema_version": 1, "job_id": "job-guard", "kind": "selftest", "params": {}, '
        '"status": "completed", "progress": {"done": 1, "total": 1}, "result": {"done": 1}, '
        '"error": null, "created_at": "2026-01-01T00:00:00+00:00"}'
    )
    return root


@pytest.fixture(scope="module")
def guarded(guarded_root: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(guarded_root)), base_url=BASE_URL) as c:
        yield c


def test_the_mutating_routes_are_listed() -> None:
    ops = mutating_operations()
    for expected in [
        ("POST", "/api/text_models/{model_id}/promote"),
        ("POST", "/api/text_models/{model_id}/reject"),
        ("POST", "/api/chat/sessions/{session_id}/reset"),
        ("POST", "/api/jobs/{job_id}/cancel"),
        ("DELETE", "/api/chat/sessions/{session_id}"),
        ("PATCH", "/api/chat/sessions/{session_id}/safety"),
        ("POST", "/api/sessions"),
    ]:
        assert expected in ops
    assert len(ops) >= 20


@pytest.mark.parametrize("why", sorted(FOREIGN))
@pytest.mark.parametrize(("method", "path"), mutating_operations())
def test_every_mutating_route_refuses_foreign_requests(
    guarded: TestClient, guarded_root: Path, method: str, path: str, why: str
) -> None:
    before = tree_digest(guarded_root)
    r = guarded.request(method, fill(path), headers=FOREIGN[why], json={})
    assert r.status_code == 403, (method, path, why, r.text)
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["detail"]
    assert tree_digest(guarded_root) == before, f"{method} {path} changed the store ({why})"


@pytest.mark.parametrize(("method", "path"), mutating_operations())
def test_the_same_requests_from_the_dashboard_reach_the_route(
    guarded: TestClient, method: str, path: str
) -> None:
    """Control: with the server's own Origin the request gets past the guard (here to the
    route's own refusal of an unknown id or a body that is not an object: nothing changes)."""
    unknown = re.sub(r"\{\w+\}", "nope", path).replace("/nope/turns/nope", "/nope/turns/0")
    unknown = unknown.replace("/weights/nope", "/weights/0")
    r = guarded.request(method, unknown, headers={"Origin": BASE_URL}, json=[1])
    assert r.status_code in (400, 404, 409, 422), (method, path, r.text)


def test_cross_site_reject_is_refused_and_changes_nothing(guarded: TestClient) -> None:
    r = guarded.post("/api/text_models/tiny-lm/reject", headers={"Origin": EVIL})
    assert r.status_code == 403
    assert "cross-site" in r.json()["detail"]
    assert guarded.get("/api/text_models/tiny-lm").json()["summary"]["rejected"] is False
    d = guarded.delete("/api/chat/sessions/sess-a", headers={"Sec-Fetch-Site": "cross-site"})
    assert d.status_code == 403
    assert guarded.get("/api/chat/sessions/sess-a").status_code == 200


def test_same_origin_and_vite_proxy_requests_work(make_client, tmp_path: Path) -> None:
    c = make_client()
    for headers in [
        {"Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"},
        {"Origin": "http://localhost:13579", "Host": "localhost:13579"},
        {"Origin": "http://[::1]:13579", "Host": "[::1]:13579"},
        # The Vite dev server proxies /api without changing Host (changeOrigin: false).
        {"Origin": "http://localhost:5173", "Host": "localhost:5173"},
        {},  # curl, the CLI, scripts: no Origin at all
    ]:
        r = c.post("/api/jobs/nope/cancel", headers=headers)
        assert r.status_code == 404, (headers, r.text)


def test_reads_from_a_foreign_origin_are_not_refused_but_get_no_cors(client) -> None:
    r = client.get("/api/health", headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:13579", "127.0.0.1.evil.example", "localhost.evil"]
)
def test_foreign_host_is_refused_everywhere(make_client, host: str) -> None:
    c = make_client()
    for path in ["/api/health", "/api/sessions", "/", "/index.html", "/api/nope"]:
        r = c.get(path, headers={"Host": host})
        assert r.status_code == 403, (path, r.text)
        assert "--allowed-host" in r.json()["detail"]


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.1:13579", "localhost", "localhost:1", "[::1]:80", "127.0.0.2"]
)
def test_loopback_hosts_are_allowed(make_client, host: str) -> None:
    assert make_client().get("/api/health", headers={"Host": host}).status_code == 200


def test_allowed_host_option(make_client) -> None:
    c = make_client(allowed_hosts=["lab.example", "box.example:8443"])
    ok = {"lab.example", "lab.example:1", "LAB.example.", "box.example:8443"}
    for host in sorted(ok):
        assert c.get("/api/health", headers={"Host": host}).status_code == 200, host
    for host in ["box.example", "box.example:80", "evil.example", "lab.example.evil"]:
        assert c.get("/api/health", headers={"Host": host}).status_code == 403, host
    star = make_client(allowed_hosts=["*"])
    assert star.get("/api/health", headers={"Host": "anything.example"}).status_code == 200


def test_bad_allowed_host_is_an_error(make_settings, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="allowed host"):
        create_app(make_settings(tmp_path, allowed_hosts=["http://x/y"]))


def test_token_mode_on_a_wildcard_bind(make_client) -> None:
    """Bound to 0.0.0.0 with a token: reachable by IP address (and the machine's name) with
    the token, never under a foreign name, and cross-site writes stay refused."""
    c = make_client(host="0.0.0.0", token="s3cret")
    auth = {"Authorization": "Bearer s3cret"}
    assert c.get("/api/health", headers={**auth, "Host": "192.168.1.5:13579"}).status_code == 200
    assert c.get("/api/health", headers={"Host": "192.168.1.5:13579"}).status_code == 401
    assert c.get("/api/health", headers={**auth, "Host": "evil.example"}).status_code == 403
    same = {**auth, "Host": "192.168.1.5:13579", "Origin": "http://192.168.1.5:13579"}
    assert c.post("/api/jobs/nope/cancel", headers=same).status_code == 404
    cross = {**auth, "Host": "192.168.1.5:13579", "Origin": EVIL}
    assert c.post("/api/jobs/nope/cancel", headers=cross).status_code == 403


def test_bound_host_is_allowed(make_client) -> None:
    c = make_client(host="10.1.2.3", token="t")
    auth = {"Authorization": "Bearer t"}
    assert c.get("/api/health", headers={**auth, "Host": "10.1.2.3:13579"}).status_code == 200
    assert c.get("/api/health", headers={**auth, "Host": "10.1.2.4:13579"}).status_code == 403


def test_cors_origin_may_write(make_client) -> None:
    c = make_client(cors_origins=["http://localhost:5173"])
    ok = c.post(
        "/api/jobs/nope/cancel",
        headers={"Origin": "http://localhost:5173", "Sec-Fetch-Site": "cross-site"},
    )
    assert ok.status_code == 404
    assert ok.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert c.post("/api/jobs/nope/cancel", headers={"Origin": EVIL}).status_code == 403


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("localhost", ("localhost", None)),
        ("LocalHost:80", ("localhost", 80)),
        ("[::1]:13579", ("::1", 13579)),
        ("example.org.", ("example.org", None)),
        ("", None),
        ("a b", None),
        ("x:notaport", None),
        ("user@host", None),
        ("host/path", None),
    ],
)
def test_split_host(value: str, parsed: Any) -> None:
    assert split_host(value) == parsed


def test_same_origin_rules() -> None:
    assert same_origin("http://127.0.0.1:13579", "127.0.0.1", 13579)
    assert same_origin("https://lab.example", "lab.example", None)
    assert same_origin("http://lab.example", "lab.example", 80)
    assert not same_origin("http://lab.example:81", "lab.example", 80)
    assert not same_origin("http://localhost:13579", "127.0.0.1", 13579)
    assert not same_origin("null", "127.0.0.1", 13579)
    assert not same_origin("file://", "127.0.0.1", 13579)


def test_host_rules_of_a_wildcard_bind_allow_ips_only_as_literals() -> None:
    rules = HostRules.build("0.0.0.0")
    assert rules.allows("192.168.1.5", None) and rules.allows("fe80::1", 80)
    assert not rules.allows("evil.example", None)
    narrow = HostRules.build("127.0.0.1")
    assert not narrow.allows("192.168.1.5", None)
