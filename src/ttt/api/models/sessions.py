"""Nano sessions: summaries, detail, actions, architecture, files, lineage."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ttt.api.models.common import Id, ItemError, ParentRef, StrictModel
from ttt.nano.session import EVAL_SEED_LIMIT


class SessionSummary(BaseModel):
    session_id: str
    parent: ParentRef | None = None
    created_at: str | None = None
    mu: float | None = None
    env_mode: str | None = None
    base_id: str | None = None
    model_signature: str | None = None
    steps_total: int = 0
    updates_attempted: int = 0
    updates_committed: int = 0
    updates_rolled_back: int = 0
    baseline_mse_last100_mean: float | None = None
    adaptive_mse_last100_mean: float | None = None
    improvement_last100: float | None = None
    runs: int = 0
    last_run_id: str | None = None
    running: bool = False


class SessionList(BaseModel):
    items: list[SessionSummary]
    total: int
    errors: list[ItemError] = Field(default_factory=list)


class RunInfo(BaseModel):
    run_id: str
    status: str = Field(description="running | completed | failed | cancelled | interrupted")
    steps: int | None = None
    t_start: int | None = None
    t_end: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    frozen_weights: str | None = Field(
        None,
        description="What per_step's frozen_mse predicts with: 'session_start' (the session's "
        "own starting weights: the base, or the fork point); absent in older runs (this "
        "run's starting weights).",
    )


class SessionDetail(BaseModel):
    meta: dict[str, Any]
    metrics: dict[str, Any]
    runs: list[RunInfo]
    resume_command: str = Field(description="The exact CLI command that continues the session.")
    running: bool = False


class Overrides(StrictModel):
    """Per-run config changes; recorded in the run's run.json."""

    env: dict[str, Any] | None = None
    plasticity: dict[str, Any] | None = None


class SessionCreate(StrictModel):
    base_id: Id | None = Field(None, description="Base to start from (latest when omitted).")
    mu: float | None = Field(None, description="Hidden friction (random in range if omitted).")
    env_mode: Literal["linear", "nonlinear"] = "linear"
    seed: int | None = Field(
        None, ge=0, lt=EVAL_SEED_LIMIT, description="Default: random (pretraining uses the rest)."
    )
    env_overrides: dict[str, Any] | None = None
    plasticity_overrides: dict[str, Any] | None = None
    session_id: Id | None = Field(None, description="Id to use; a fresh one when omitted.")


class RunRequest(StrictModel):
    steps: int = Field(ge=1, le=10_000_000)
    overrides: Overrides | None = None
    run_id: Id | None = Field(None, description="Id to use; a fresh one when omitted.")


class ForkRequest(StrictModel):
    from_update: int | None = Field(
        None, ge=0, description="Committed update k to branch from (latest state when omitted)."
    )
    with_momentum: bool = True
    new_session_id: Id | None = None
    overrides: Overrides | None = None


class GhostRequest(StrictModel):
    """Replay a run's recorded actions under another mu; start/end are t values (as in the
    per_step and trajectory endpoints), [start, end), default the whole run."""

    mu: float
    run_id: Id
    start: int | None = Field(None, ge=0)
    end: int | None = Field(None, ge=0)


class GhostOut(BaseModel):
    t: list[int]
    obs: list[list[float]]
    mu: float | None = None


class ParamCounts(BaseModel):
    plastic: dict[str, int]
    frozen: dict[str, int]


class Architecture(BaseModel):
    model_cfg: dict[str, Any]
    shapes: dict[str, list[int]]
    decay: list[float] = Field(description="exp(-softplus(a_raw)) per state, all in (0, 1).")
    param_counts: ParamCounts
    plasticity_cfg: dict[str, Any]
    muon: dict[str, Any] = Field(
        description="Muon hyperparameters and lr_scale per plastic matrix (sqrt(max(1, r/c)))."
    )
    plastic: list[str]
    frozen: list[str]


class FileEntry(BaseModel):
    path: str = Field(description="Relative to the session folder, '/'-separated.")
    size: int


class FileList(BaseModel):
    items: list[FileEntry]
    total_bytes: int


class LineageNode(BaseModel):
    session_id: str
    parent: ParentRef | None = None
    created_at: str | None = None
    mu: float | None = None
    env_mode: str | None = None
    children: list[str] = Field(default_factory=list)


class Lineage(BaseModel):
    nodes: list[LineageNode]
    roots: list[str] = Field(description="Sessions without a (readable) parent.")
