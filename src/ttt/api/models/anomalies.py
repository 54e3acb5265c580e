"""The anomaly review queue: scored update attempts of every domain and their review state."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ttt.api.models.common import StrictModel

ReviewStateName = Literal["open", "reviewed", "dismissed", "flagged"]
Kind = Literal["nano", "sentry", "chat"]
KINDS: tuple[Kind, ...] = ("nano", "sentry", "chat")


class Review(BaseModel):
    state: ReviewStateName = "open"
    note: str | None = None
    at: str | None = Field(
        default=None, description="When the decision was recorded (UTC, ISO 8601)."
    )


class Finding(BaseModel):
    """One update attempt, ranked by how unusual it is within its family."""

    id: str = Field(description="Short id of the attempt (sha256 prefix of key).")
    key: str = Field(
        description="nano/<session>/<run>/t=T, sentry/<run>/chunk=K, chat/<session>/turn=N/chunk=K"
    )
    kind: Kind
    family: str = Field(
        description="Records are scored against this family only (model or base, objective, "
        "chunk size)."
    )
    item: str = Field(description="Session or run id.")
    run: str | None = None
    position: int = Field(description="t (Nano) or chunk (Sentry, chat).")
    turn: int | None = None
    status: str
    score: float
    rank: int = Field(description="1 = the most unusual of the scan.")
    z: dict[str, float | None] = Field(
        description="One-sided robust z of each signal in the family."
    )
    why: list[str] = Field(description="The signals above the explain threshold, in plain English.")
    family_size: int
    signals: dict[str, float | None] = Field(description="The raw signal values.")
    has_text: bool = Field(
        description="The attempt's text was kept (a flag can seed the red team)."
    )
    link: str = Field(description="Dashboard path of the exact event in its view.")
    merged: list[str] = Field(
        description="Keys of neighbouring attempts of the same stream merged into this one."
    )
    review: Review


class ScanInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    created_at: str
    config: dict[str, Any]
    records: int = Field(description="Update attempts scored.")
    families: dict[str, int] = Field(description="Attempts per family.")
    seconds: float


class AnomalyQueue(BaseModel):
    scan: ScanInfo | None = Field(description="The last scan (null: none yet).")
    items: list[Finding]
    total: int = Field(description="Findings matching the filter.")
    states: dict[str, int] = Field(description="Findings per review state (whole scan).")


class ScanRequest(StrictModel):
    model_config = ConfigDict(extra="forbid")

    kinds: list[Kind] = Field(default_factory=lambda: list(KINDS), min_length=1)
    method: Literal["robust_z", "iforest"] = "robust_z"
    top: int = Field(100, ge=1, le=10_000)
    explain_z: float = Field(3.0, gt=0, le=50)
    burst_window: int = Field(8, ge=1, le=1000)
    seed: int = Field(0, ge=0, le=2**31 - 1)


class ReviewRequest(StrictModel):
    model_config = ConfigDict(extra="forbid")

    state: ReviewStateName
    note: str | None = Field(None, max_length=2000)
