"""One place that maps domain and store errors to HTTP statuses; every error body is
``{"detail": ...}`` JSON.

    ValueError (bad parameters)                    -> 422
    NotFoundError                                  -> 404
    InvalidIdError                                 -> 400
    PathEscapeError (a path outside what may be read) -> 403
    AlreadyExistsError, LockTimeoutError           -> 409
    ModelStateError (e.g. promoting a failed model) -> 409
    FindingStateError (flagging a finding whose text was not kept) -> 409
    CorruptFileError, SchemaVersionError, other StoreError -> 500 (the message names the file)
    anything else                                  -> 500
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from ttt.models.registry import ModelStateError
from ttt.review import FindingStateError
from ttt.store import (
    AlreadyExistsError,
    CorruptFileError,
    InvalidIdError,
    LockTimeoutError,
    NotFoundError,
    PathEscapeError,
    SchemaVersionError,
    StoreError,
)

log = logging.getLogger("ttt.api")

STATUS_BY_ERROR: dict[type[Exception], int] = {
    ValueError: 422,
    ModelStateError: 409,
    FindingStateError: 409,
    NotFoundError: 404,
    InvalidIdError: 400,
    PathEscapeError: 403,
    AlreadyExistsError: 409,
    LockTimeoutError: 409,
    CorruptFileError: 500,
    SchemaVersionError: 500,
    StoreError: 500,
}


@contextmanager
def user_config(what: str) -> Iterator[None]:
    """Around building a config from request input: a config that does not check a field's
    type yet fails with TypeError/AttributeError/KeyError on a wrong-typed value (a list
    where it expects a mapping, ...); that is the request's fault, so it becomes a
    ValueError (422) naming the config instead of a 500. ValueErrors pass unchanged."""
    try:
        yield
    except (ValueError, StoreError):  # NotFoundError is a KeyError too: its own status
        raise
    except (TypeError, AttributeError, KeyError) as exc:
        raise ValueError(
            f"{what}: a value has the wrong type ({type(exc).__name__}: {exc})"
        ) from exc


def status_for(exc: Exception) -> int:
    """Status of the most specific mapped class in the exception's MRO."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


async def _domain_error(request: Request, exc: Exception) -> Response:
    status = status_for(exc)
    if status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
    return JSONResponse({"detail": str(exc) or type(exc).__name__}, status_code=status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI document lists for this path (a 405's ``Allow``: Starlette
    names only the methods of the first route that matched it). Where several templates
    match, the most literal one is the resource (``/train`` over ``/{model_id}``)."""
    path = request.url.path
    found: list[tuple[int, set[str]]] = []
    for template, item in request.app.openapi().get("paths", {}).items():
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            found.append((template.count("{"), {m.upper() for m in item}))
    if not found:
        return []
    fewest = min(n for n, _ in found)
    return sorted(set().union(*(m for n, m in found if n == fewest)))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("%s %s crashed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for cls in STATUS_BY_ERROR:
        app.add_exception_handler(cls, _domain_error)
    app.add_exception_handler(Exception, _unexpected)
