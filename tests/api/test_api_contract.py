"""Regression tests of the fuzzing findings (tests/api/test_api_fuzz.py finds the class; these
pin each case) and of the contract that every operation shares (ttt.api.contract)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apitools import client_over

from ttt.api.models.common import StrictModel
from ttt.api.openapi import openapi_schema

MUTATING = ("post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def client_lm(tiny_lm_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("contract") / "artifacts"
    shutil.copytree(tiny_lm_root, root)
    yield from client_over(root)


def operations() -> list[tuple[str, str, dict]]:
    return [
        (method, path, op)
        for path, item in openapi_schema()["paths"].items()
        for method, op in item.items()
    ]


def test_per_step_with_an_alpha_below_float_resolution(client) -> None:
    """ema_alpha=5e-324 was a 500 (ZeroDivisionError): now the running mean, its limit."""
    url = "/api/sessions/sess-a/runs/run-a1/per_step"
    for alpha in ("5e-324", "1e-300", "1e-17"):
        r = client.get(url, params={"points": 5, "ema_alpha": alpha})
        assert r.status_code == 200, r.text
        assert r.json()["ema_alpha"] == float(alpha)


def test_every_mutating_operation_documents_409_403_401() -> None:
    for method, path, op in operations():
        codes = set(op["responses"])
        assert {"401", "403"} <= codes, (method, path)
        if method in MUTATING:
            assert "409" in codes, (method, path)
        if "requestBody" in op:
            assert "413" in codes, (method, path)
    for method, path in [("post", "/api/bases"), ("post", "/api/sweeps")]:
        assert "409" in openapi_schema()["paths"][path][method]["responses"]
    run = openapi_schema()["paths"]["/api/sessions/{session_id}/run"]["post"]
    assert "409" in run["responses"]


def test_sse_routes_are_declared_as_event_streams() -> None:
    streams = []
    for _, path, op in operations():
        content = op["responses"].get("200", {}).get("content", {})
        if "text/event-stream" in content:
            streams.append(path)
            assert "application/json" not in content, path
            events = content["text/event-stream"]["schema"]["oneOf"]
            names = [e["properties"]["event"]["const"] for e in events]
            assert names and len(names) == len(set(names)), path
            for e in events:
                assert e["properties"]["data"]["contentMediaType"] == "application/json"
    assert len(streams) == 6, streams
    assert "/api/chat/sessions/{session_id}/messages" in streams


def test_every_request_body_model_is_strict() -> None:
    """A request body that would take ``false`` for 0 or ``"1"`` for 1: a new body model that
    forgets StrictModel fails here."""
    from ttt.api.models import (
        anomalies,
        bases,
        chat,
        redteam,
        sessions,
        sleep,
        sweeps,
        text_models,
        text_runs,
    )

    modules = [anomalies, bases, chat, redteam, sessions, sleep, sweeps, text_models, text_runs]
    by_name = {n: getattr(m, n) for m in modules for n in dir(m)}
    bodies = set()
    for _, _, op in operations():
        ref = (
            op.get("requestBody", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema", {})
            .get("$ref")
        )
        if ref:
            bodies.add(ref.rsplit("/", 1)[1])
    assert len(bodies) >= 15
    for name in bodies:
        assert issubclass(by_name[name], StrictModel), name


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/sessions", {"seed": False}),
        ("/api/sessions", {"seed": "1"}),
        ("/api/sessions", {"mu": True}),
        ("/api/sweeps", {"seed": False}),
        ("/api/sweeps", {"mus": [0.1, True]}),
        ("/api/bases", {"seed": True}),
        ("/api/sessions/sess-a/run", {"steps": True}),
        ("/api/sessions/sess-a/fork", {"with_momentum": 0}),
        ("/api/text_models/tiny-lm/generate", {"seed": False}),
        ("/api/text_models/tiny-lm/generate", {"max_tokens": "5"}),
    ],
)
def test_booleans_and_strings_are_not_numbers(client, path: str, body: dict) -> None:
    jobs_before = client.get("/api/jobs").json()["total"]
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    field = next(iter(body))
    assert field in str(r.json()["detail"])
    assert client.get("/api/jobs").json()["total"] == jobs_before


def test_integral_floats_are_integers(make_client) -> None:
    """JSON Schema counts 3.0 as an integer; so does the API."""
    c = make_client()
    r = c.post("/api/sessions/nope/run", json={"steps": 3.0})
    assert r.status_code == 404  # past validation


@pytest.mark.parametrize(
    "body",
    [
        {"mus": [], "mu_range": [0, 0]},
        {"mus": []},
        {"mu_range": [0, 0]},
        {"mus": [5.0]},
        {"n_sessions": 2, "mu_range": [0.3, 0.1]},
        {"plasticity_overrides": {"no_such_field": 1}},
        {"env_modes": []},
    ],
)
def test_sweeps_that_cannot_run_are_422_before_a_job(client, body: dict) -> None:
    """{"mus": [], "mu_range": [0, 0]} was accepted (202) and its job failed."""
    jobs_before = client.get("/api/jobs").json()["total"]
    r = client.post("/api/sweeps", json=body)
    assert r.status_code == 422, r.text
    assert client.get("/api/jobs").json()["total"] == jobs_before


def test_unknown_base_of_a_sweep_is_404(client) -> None:
    assert client.post("/api/sweeps", json={"base_id": "nope"}).status_code == 404


def test_tiny_temperature_samples(client_lm) -> None:
    """temperature=1.17e-38 was a 500 (NaN probabilities): it samples the argmax."""
    for t in (1.175494351e-38, 5e-324):
        r = client_lm.post(
            "/api/text_models/tiny-lm/generate", json={"prompt": "the", "temperature": t}
        )
        assert r.status_code == 200, r.text
        greedy = client_lm.post(
            "/api/text_models/tiny-lm/generate", json={"prompt": "the", "temperature": 0}
        )
        assert r.json()["text"] == greedy.json()["text"]


def test_405_allow_lists_every_method_of_the_path(client) -> None:
    r = client.request("OPTIONS", "/api/bases")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, POST"
    r = client.put("/api/chat/sessions/x")
    assert r.headers["allow"] == "DELETE, GET"


def test_sort_accepts_exactly_the_documented_values(client) -> None:
    params = openapi_schema()["paths"]["/api/sessions"]["get"]["parameters"]
    allowed = next(p for p in params if p["name"] == "sort")["schema"]["enum"]
    for value in allowed:
        assert client.get("/api/sessions", params={"sort": value}).status_code == 200, value
    for value in ("+mu", "--mu", "", "mu ", "%c"):
        assert client.get("/api/sessions", params={"sort": value}).status_code == 422, value


def test_id_rules_are_in_the_schema_and_match_the_store() -> None:
    import re

    from ttt.store import is_valid_id

    op = openapi_schema()["paths"]["/api/jobs/{job_id}"]["get"]
    schema = op["parameters"][0]["schema"]
    rx = re.compile(schema["pattern"])
    for value in ["a", "a.b", "a-b_c.d", "A1", "x" * 64, "a..b", "a.", ".a", "-a", "a/b", "é"]:
        fits = bool(rx.search(value)) and len(value) <= schema["maxLength"]
        assert fits == is_valid_id(value), value


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("/api/sessions", {"plasticity_overrides": {"checks": "abc"}}, "plasticity"),
        ("/api/sessions", {"plasticity_overrides": {"checks": []}}, "plasticity"),
        (
            "/api/sessions/sess-a/run",
            {"steps": 5, "overrides": {"plasticity": {"checks": 1}}},
            "plasticity",
        ),
        ("/api/sweeps", {"plasticity_overrides": {"checks": True}}, "plasticity"),
        ("/api/sessions", {"env_overrides": {"mu": "x"}}, "mu"),
    ],
)
def test_wrong_typed_config_values_are_422_not_500(
    client, path: str, body: dict, needle: str
) -> None:
    """A config that does not check a field's type yet crashed on it (500); the API answers
    422 naming the config (the config's own ValueError, naming the field, where it has one)."""
    jobs_before = client.get("/api/jobs").json()["total"]
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert needle in str(r.json()["detail"])
    assert client.get("/api/jobs").json()["total"] == jobs_before


def test_405_allow_names_the_literal_resource(client) -> None:
    """/api/text_models/train is its own resource (POST), not a model called 'train'."""
    r = client.request("OPTIONS", "/api/text_models/train")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_session_on_an_unknown_base_is_404_before_a_job(client) -> None:
    """It was accepted (202) and its job failed."""
    jobs_before = client.get("/api/jobs").json()["total"]
    r = client.post("/api/sessions", json={"base_id": "no-such-base"})
    assert r.status_code == 404 and "no-such-base" in r.json()["detail"]
    assert client.get("/api/jobs").json()["total"] == jobs_before


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("/api/sessions", {"seed": 10_000_000}, "seed"),
        ("/api/sessions", {"seed": 1867663060016258}, "seed"),
        ("/api/sessions/sess-a-fork/fork", {"from_update": 25442878}, "from_update"),
        ("/api/sessions/sess-a/fork", {"from_update": 2**58 + 1}, "from_update"),
    ],
)
def test_accepted_jobs_that_failed_are_now_422(client, path: str, body: dict, needle: str) -> None:
    """Found by re-running the jobs the deep fuzz run got accepted: these were 202, then the
    job failed (seed beyond the evaluation range; a fork from an update that was never
    committed)."""
    jobs_before = client.get("/api/jobs").json()["total"]
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert needle in str(r.json()["detail"])
    assert client.get("/api/jobs").json()["total"] == jobs_before
