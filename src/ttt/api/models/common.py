"""Models shared by several resources."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The store's id rule (ttt.store.ids) as a regular expression without look-arounds: a letter
# or digit, then letters, digits, '_', '-' and single dots, no trailing dot; 1-64 characters.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$"
ID_MAX_LEN = 64
Id = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=ID_MAX_LEN)]


def _type_problem(annotation: Any, value: Any) -> str | None:
    """Why ``value`` does not have the JSON type of ``annotation`` where pydantic's lax mode
    would convert it: a boolean for a number, a number for a boolean (also in lists)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _type_problem(get_args(annotation)[0], value)
    if origin in (Union, types.UnionType):
        args = get_args(annotation)
        if value is None or isinstance(value, list | dict):
            listy = [a for a in args if get_origin(a) in (list, tuple)]
            return _type_problem(listy[0], value) if listy and isinstance(value, list) else None
        numeric = any(a in (int, float) for a in args)
        if isinstance(value, bool):
            return "must be a number, not a boolean" if numeric and bool not in args else None
        if isinstance(value, str) and numeric and str not in args:
            return "must be a number, not a string"
        if (
            isinstance(value, int | float)
            and bool in args
            and not any(a in (int, float) for a in args)
        ):
            return "must be true or false, not a number"
        return None
    if origin in (list, tuple) and isinstance(value, list):
        items = [a for a in get_args(annotation) if a is not Ellipsis]
        for i, item in enumerate(value):
            inner = items[min(i, len(items) - 1)] if items else Any
            problem = _type_problem(inner, item)
            if problem:
                return f"item {i} {problem}"
        return None
    if annotation in (int, float) and isinstance(value, bool):
        return "must be a number, not a boolean"
    if annotation in (int, float) and isinstance(value, str):
        return "must be a number, not a string"
    if annotation is bool and not isinstance(value, bool):
        return "must be true or false"
    return None


class StrictModel(BaseModel):
    """A request body: the JSON types the schema names, without pydantic's lax conversions
    of booleans and strings to numbers and of numbers to booleans (``{"seed": false}`` and
    ``{"seed": "1"}`` are 422, not 0 and 1)."""

    @model_validator(mode="before")
    @classmethod
    def _json_types(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                key = field.alias or name
                if key in data:
                    problem = _type_problem(field.annotation, data[key])
                    if problem:
                        raise ValueError(f"{key}: {problem}")
        return data


class ErrorOut(BaseModel):
    """Every error response: a message (or, for 422 validation errors, a list of them)."""

    detail: Any


class ItemError(BaseModel):
    """An item that could not be read; listings report it instead of failing."""

    id: str
    detail: str


class ParentRef(BaseModel):
    """Where a forked session branched off its parent."""

    model_config = ConfigDict(extra="allow")

    session_id: str
    update_index: int | None = None
    t: int | None = None
    with_momentum: bool | None = None


class Health(BaseModel):
    status: str = Field(description="'ok' when the server and artifact root are usable.")
    version: str
    artifacts_root: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Invalid id or parameter"},
    404: {"model": ErrorOut, "description": "Not found"},
    422: {"model": ErrorOut, "description": "Invalid parameters"},
    500: {"model": ErrorOut, "description": "Unreadable or corrupt file (named in detail)"},
}
