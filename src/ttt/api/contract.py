"""The OpenAPI contract beyond what the routes declare one by one.

``install_openapi(app)`` makes ``app.openapi()`` add, for every operation, what is true of
all of them (so a new route cannot forget it):

* the responses of the middleware and the store: 401 (only with ``--token``), 403 (a foreign
  ``Host``, or a cross-site state-changing request), 409 on state-changing routes (a conflict
  or a lock held by another writer), 413 where a body is accepted;
* the id rules on every ``*_id`` path parameter (and the ``run_id`` query parameter): the
  store refuses any other value with 400 (``ttt.store.ids``);
* the data of each Server-Sent Events stream: a route declared with ``sse_responses``
  documents ``text/event-stream`` with the schema of each event: its ``event`` is one of the
  names its doc model lists and its ``data`` is JSON of that name's schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter

from ttt.api.models.common import ID_MAX_LEN, ID_PATTERN, ErrorOut

MUTATING = frozenset({"post", "put", "patch", "delete"})
SSE_MEDIA_TYPE = "text/event-stream"
_REF = "#/components/schemas/{model}"
# Doc models of the SSE routes, by name (filled by ``sse_responses`` at import time).
_SSE_DOCS: dict[str, type[BaseModel]] = {}


COMMON_ERRORS: dict[str, dict[str, Any]] = {
    "401": {"description": "Missing or invalid token (only when the server runs with --token)"},
    "403": {"description": "Foreign Host header, or a cross-site state-changing request"},
}
MUTATING_ERRORS = {"409": {"description": "Conflict: the item exists, is busy or is locked"}}
BODY_ERRORS = {"413": {"description": "Request body too large"}}


def sse_responses(doc: type[BaseModel], description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of an SSE route: 200 is ``text/event-stream``; ``doc`` has one field
    per event name, typed as that event's data."""
    _SSE_DOCS[doc.__name__] = doc
    return {
        200: {
            "description": description,
            "content": {SSE_MEDIA_TYPE: {"schema": {"x-sse-doc": doc.__name__}}},
        }
    }


def _event_schema(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "event": {"const": name},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": data,
            },
            "id": {"type": "string"},
            "retry": {"type": "integer"},
        },
        "required": ["event", "data"],
    }


def _sse_schema(doc: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """The schema of each event of a stream (as EventSource and schemathesis parse it:
    ``{event, data, id?, retry?}``) for ``doc``."""
    events = []
    for name, field in doc.model_fields.items():
        schema = TypeAdapter(Any if field.annotation is None else field.annotation).json_schema(
            ref_template=_REF
        )
        for key, sub in schema.pop("$defs", {}).items():
            components.setdefault(key, sub)
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            # A named model is a component (the dashboard's types name it), data refers to it.
            components.setdefault(model.__name__, schema)
            schema = {"$ref": _REF.format(model=model.__name__)}
        events.append(_event_schema(name, schema))
    return {
        "oneOf": events,
        "description": f"One event of the stream (its data is JSON); see {doc.__name__}.",
    }


def _id_rules(param: dict[str, Any]) -> None:
    schema = param.setdefault("schema", {})
    if "anyOf" in schema:  # optional query parameter: str | None
        for alt in schema["anyOf"]:
            if alt.get("type") == "string":
                alt.update(pattern=ID_PATTERN, minLength=1, maxLength=ID_MAX_LEN)
        return
    schema.update(pattern=ID_PATTERN, minLength=1, maxLength=ID_MAX_LEN)


def _with_ref(responses: dict[str, Any], extra: Mapping[str, dict[str, Any]]) -> None:
    for code, doc in extra.items():
        if code in responses:
            continue
        content = {"application/json": {"schema": {"$ref": _REF.format(model="ErrorOut")}}}
        responses[code] = {"description": doc["description"], "content": content}


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """Add what every operation shares (see the module docstring) to ``schema``."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorOut", ErrorOut.model_json_schema(ref_template=_REF))
    for item in schema.get("paths", {}).values():
        for method, op in item.items():
            responses = op.setdefault("responses", {})
            _with_ref(responses, COMMON_ERRORS)
            if method in MUTATING:
                _with_ref(responses, MUTATING_ERRORS)
            if "requestBody" in op:
                _with_ref(responses, BODY_ERRORS)
            for param in op.get("parameters", []):
                name = param.get("name", "")
                if (param.get("in") == "path" and name.endswith("_id")) or (
                    param.get("in") == "query" and name == "run_id"
                ):
                    _id_rules(param)
            for resp in responses.values():
                media = resp.get("content", {}).get(SSE_MEDIA_TYPE)
                if media and "x-sse-doc" in media.get("schema", {}):
                    doc = _SSE_DOCS[media["schema"]["x-sse-doc"]]
                    media["schema"] = _sse_schema(doc, components)
                    resp.get("content", {}).pop("application/json", None)
    return schema


def install_openapi(app: FastAPI) -> None:
    """``app.openapi()`` returns the completed document (built once)."""
    build = app.openapi  # FastAPI's: cached, rebuilt when the routes change
    completed: list[int] = []

    def openapi() -> dict[str, Any]:
        schema = build()
        if completed[-1:] != [id(schema)]:
            complete(schema)
            completed[:] = [id(schema)]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
