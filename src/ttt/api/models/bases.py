"""Nano base checkpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ttt.api.models.common import Id, StrictModel


class BaseInfo(BaseModel):
    base_id: str
    created_at: str | None = None
    model_signature: str | None = None
    base_ckpt_hash: str | None = None
    model_cfg: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    preset: str | None = None


class BaseList(BaseModel):
    items: list[BaseInfo]
    total: int


class BaseDetail(BaseInfo):
    pretrain_cfg: dict[str, Any] = Field(default_factory=dict)
    torch_version: str | None = None
    package_version: str | None = None
    pretrain_log: list[dict[str, Any]] = Field(
        default_factory=list, description="pretrain_log.jsonl: {step, loss, lr, ...} per line."
    )


class BaseCreate(StrictModel):
    """Pretrain a new base (a job)."""

    preset: Literal["default", "tiny"] = "default"
    seed: int = Field(0, ge=0)
    base_id: Id | None = Field(None, description="Id to use; a fresh one when omitted.")
