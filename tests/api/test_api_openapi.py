"""The committed OpenAPI contract and the dashboard's generated types are up to date.

Regenerate both with ``scripts/gen_api_types.sh``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ttt.api.openapi import openapi_json, openapi_schema

API_DIR = Path(__file__).resolve().parents[2] / "dashboard" / "src" / "api"
FIX = "run scripts/gen_api_types.sh and commit dashboard/src/api/{openapi.json,schema.d.ts}"


def test_openapi_json_is_current() -> None:
    committed = (API_DIR / "openapi.json").read_text(encoding="utf-8")
    assert json.loads(committed) == json.loads(openapi_json()), f"openapi.json is stale: {FIX}"
    assert committed == openapi_json(), f"openapi.json is not formatted as generated: {FIX}"


def test_schema_d_ts_was_generated_from_this_openapi_json() -> None:
    digest = hashlib.sha256((API_DIR / "openapi.json").read_bytes()).hexdigest()
    first = (API_DIR / "schema.d.ts").read_text(encoding="utf-8").splitlines()[0]
    assert f"sha256 {digest}" in first, f"schema.d.ts is stale: {FIX}"


def test_every_route_has_a_documented_response() -> None:
    schema = openapi_schema()
    for path, ops in schema["paths"].items():
        assert path.startswith("/api/"), path
        for method, op in ops.items():
            ok = op["responses"].get("200") or op["responses"].get("202")
            assert ok is not None, (method, path)
            content = ok.get("content", {})
            assert content, (method, path)
            if "application/json" in content:
                assert content["application/json"]["schema"], (method, path)
