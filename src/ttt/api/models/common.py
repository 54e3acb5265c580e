"""Models shared by several resources."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
