"""schemathesis hooks of the API fuzz test (loaded through SCHEMATHESIS_HOOKS by the
``schemathesis run`` that tests/api/test_api_fuzz.py starts).

* A stream that waits for an item to appear (``wait_s``) waits 0.3 s at most.
* With ``TTT_FUZZ_CANCEL=1``, every accepted job (202) is cancelled at once, so that the
  hundreds of requests of a run do not queue hours of work (the deep run lets them run).
"""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis

SSE_WAIT_S = 0.3


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if any(p.name == "wait_s" for p in case.operation.query):
        case.query = {**(case.query or {}), "wait_s": SSE_WAIT_S}


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    if os.environ.get("TTT_FUZZ_CANCEL") != "1" or response.status_code != 202:
        return
    body = response.json()
    job_id = body.get("job_id") or (body.get("job") or {}).get("job_id")
    base = os.environ["TTT_FUZZ_URL"]
    requests.post(f"{base}/api/jobs/{job_id}/cancel", timeout=30).raise_for_status()
