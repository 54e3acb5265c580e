"""Helpers of the API tests that run real jobs and streams (imported by the test modules;
pytest puts this folder on ``sys.path``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Test clients talk to the app as a browser on the same machine would (the Host check
# refuses TestClient's default Host "testserver").
BASE_URL = "http://127.0.0.1:13579"


def make_settings(root: Path, **kw: Any) -> Any:
    """ApiSettings of the tests: ``root``, no dashboard, no token, no CORS, loopback."""
    from ttt.api.settings import ApiSettings

    values: dict[str, Any] = {
        "artifacts_root": root,
        "dashboard_dist": root.parent / "no-dist",
        "token": None,
        "cors_origins": [],
        "host": "127.0.0.1",
    }
    values.update(kw)
    return ApiSettings.model_validate(values)


def client_over(root: Path) -> Iterator[Any]:
    """A TestClient over ``root`` with the test settings of tests/api/conftest.py."""
    from fastapi.testclient import TestClient

    from ttt.api.app import create_app

    with TestClient(create_app(make_settings(root)), base_url=BASE_URL) as c:
        yield c


def wait_job(c: Any, job_id: str, timeout: float = 300.0) -> dict[str, Any]:
    """The job once it is no longer queued or running (AssertionError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = c.get(f"/api/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return dict(job)
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish within {timeout:g} s")


def sse_events(text: str) -> list[tuple[str, Any]]:
    """``(event name, parsed data)`` of each frame of a Server-Sent Events body."""
    out = []
    for block in text.split("\n\n"):
        name = data = None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if name:
            out.append((name, data))
    return out
