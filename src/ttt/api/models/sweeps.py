"""Sweeps: many sessions over a grid of mu (and env modes), batched."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ttt.api.models.common import Id, StrictModel


class SweepSummary(BaseModel):
    sweep_id: str
    created_at: str | None = None
    status: str | None = None
    n_sessions: int | None = None
    steps: int | None = None
    env_modes: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict, description="sweep.json as stored.")


class SweepList(BaseModel):
    items: list[SweepSummary]
    total: int
    errors: list[dict[str, str]] = Field(default_factory=list)


class SweepDetail(BaseModel):
    sweep_id: str
    config: dict[str, Any]
    rows: list[dict[str, Any]] = Field(description="One row per session (results.json).")


class SweepCreate(StrictModel):
    """Start a sweep (a job). Omitted fields use the domain's defaults."""

    mus: list[float] | None = Field(None, description="Explicit mu values (else a grid).")
    mu_range: tuple[float, float] | None = None
    env_modes: list[Literal["linear", "nonlinear"]] = Field(["linear"], min_length=1)
    n_sessions: int | None = Field(None, ge=1, le=4096)
    steps: int | None = Field(None, ge=1, le=1_000_000)
    noise_std: float = Field(0.0, ge=0)
    seed: int = Field(0, ge=0)
    base_id: Id | None = None
    plasticity_overrides: dict[str, Any] | None = None
    sweep_id: Id | None = None
