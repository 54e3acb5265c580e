"""schemathesis hooks of the API fuzz test (loaded through SCHEMATHESIS_HOOKS by the
``schemathesis run`` that tests/api/test_api_fuzz.py starts).

* A stream that waits for an item to appear (``wait_s``) waits 0.3 s at most.
* ``TTT_FUZZ_KNOWN_IDS`` (JSON [path regex, methods regex, parameter, id]): a valid path
  parameter of those operations names an item that exists (an invalid one is left alone).
* With ``TTT_FUZZ_CANCEL=1``, every accepted job (202) is cancelled at once, so that the
  hundreds of requests of a run do not queue hours of work (the deep run lets them run).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import requests
import schemathesis

SSE_WAIT_S = 0.3


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if any(p.name == "wait_s" for p in case.operation.query):
        case.query = {**(case.query or {}), "wait_s": SSE_WAIT_S}
    path_mode = {str(getattr(k, "value", k)): v.mode for k, v in case.meta.components.items()}
    if "path" not in path_mode or getattr(path_mode["path"], "name", "") != "POSITIVE":
        return
    known = json.loads(os.environ.get("TTT_FUZZ_KNOWN_IDS", "[]"))
    for path_re, methods_re, name, value in known:
        if re.search(path_re, case.operation.path) and re.fullmatch(methods_re, case.method):
            case.path_parameters = {**(case.path_parameters or {}), name: value}


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    if os.environ.get("TTT_FUZZ_CANCEL") != "1" or response.status_code != 202:
        return
    body = response.json()
    job_id = body.get("job_id") or (body.get("job") or {}).get("job_id")
    base = os.environ["TTT_FUZZ_URL"]
    requests.post(f"{base}/api/jobs/{job_id}/cancel", timeout=30).raise_for_status()
