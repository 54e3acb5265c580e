"""Fast JSON responses for large numeric payloads."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic_core import to_json


def json_response(content: dict[str, Any]) -> Response:
    """Serialise plain lists and dicts straight to JSON (NaN and infinities become null).

    Used where a response holds tens of thousands of numbers: building pydantic objects for
    them would cost more than the query. The shape is the route's ``response_model``
    (the tests validate real responses against it).
    """
    return Response(to_json(content, inf_nan_mode="null"), media_type="application/json")
