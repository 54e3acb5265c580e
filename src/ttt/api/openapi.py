"""The OpenAPI document of the API, built without touching any artifact root.

``scripts/export_openapi.py`` writes it to ``dashboard/src/api/openapi.json``, from which
``scripts/gen_api_types.sh`` generates the dashboard's TypeScript types; a test fails when
the committed copy is stale.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from ttt.api.app import create_app
from ttt.api.settings import ApiSettings


def openapi_schema() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = ApiSettings.model_validate(
            {"artifacts_root": Path(tmp) / "artifacts", "dashboard_dist": Path(tmp) / "dist"}
        )
        return create_app(settings).openapi()


def openapi_json() -> str:
    """The schema as committed: 2-space indented JSON with a trailing newline."""
    return json.dumps(openapi_schema(), indent=2, ensure_ascii=False) + "\n"
