"""Red-team runs (``redteam/<run_id>/``): summaries, request, iterations, attempts, and the
request that starts an attack. The stored formats are documented in ``ttt.redteam``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ttt.api.models.common import Id, ItemError, StrictModel
from ttt.api.models.jobs import Job

# The summary's status, or ``interrupted`` for a run still marked running whose job ended.
RedTeamStatus = Literal["running", "completed", "failed", "cancelled", "interrupted"]


class BestPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    payload: str
    objective: float
    success: bool
    stopped_by: str | None = None
    query: int | None = None


class RedTeamSummary(BaseModel):
    """One run in the listing: what was attacked, how, and the attack's figures so far."""

    model_config = ConfigDict(protected_namespaces=())

    run_id: str
    status: RedTeamStatus
    error: str | None = None
    created_at: str | None = None
    model_id: str | None = None
    method: str | None = None
    goal: str | None = None
    safety: str | None = Field(None, description="The validated defence's safety mode.")
    budget: int | None = Field(None, description="Queries the search may spend.")
    population: int | None = None
    seed: int | None = None
    success_threshold: float | None = Field(
        None, description="Objective a payload must reach (and pass every defence) to succeed."
    )
    queries: int = 0
    successes: int = 0
    attack_success_rate: float | None = None
    asr_ci95: list[float] | None = Field(None, description="Wilson 95% interval [lo, hi].")
    queries_to_first_success: int | None = None
    best_payloads: list[BestPayload] = Field(default_factory=list)
    stopped_by: dict[str, int] = Field(
        default_factory=dict, description="Failed attempts per defence that stopped them."
    )
    duration_s: float | None = None
    updated_at: str | None = None


class RedTeamList(BaseModel):
    items: list[RedTeamSummary] = Field(description="Newest first.")
    total: int
    errors: list[ItemError] = Field(default_factory=list, description="Unreadable runs.")


class RedTeamRequestInfo(BaseModel):
    """request.json as stored (``sentry_config``: the defence the attack ran against)."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    run_id: str
    created_at: str | None = None
    model_id: str | None = None
    model_weights_sha256: str | None = None
    method: str | None = None
    goal: str | None = None
    implant: dict[str, str] | None = None
    sentry_config: dict[str, Any] = Field(default_factory=dict)
    budget: int | None = None
    population: int | None = None
    seed: int | None = None


class RedTeamDetail(BaseModel):
    summary: RedTeamSummary
    request: RedTeamRequestInfo


class RedTeamIteration(BaseModel):
    """One line of iterations.jsonl: the search after one iteration (generation)."""

    model_config = ConfigDict(extra="allow")

    iteration: int
    queries: int
    best_objective: float | None = None
    mean_objective: float | None = None
    successes: int = 0
    elapsed_s: float | None = None


class RedTeamIterations(BaseModel):
    items: list[RedTeamIteration]
    total: int


class RedTeamAttempt(BaseModel):
    """One line of attempts.jsonl: one payload run through the defended model."""

    model_config = ConfigDict(extra="allow")

    query: int
    iteration: int
    payload: str
    parent: int | None = None
    mutation: str | None = None
    passed_gate: bool
    gate_reasons: list[str] = Field(default_factory=list)
    status: str = Field(description="Final engine status of the payload's chunks.")
    stopped_by: str | None = Field(
        None, description="e.g. 'gate:instruction_override', 'rollback_canary', 'spfw'."
    )
    objective: float
    canary_delta: float | None = None
    implant_gain: float | None = None
    success: bool


class RedTeamAttempts(BaseModel):
    items: list[RedTeamAttempt]
    total: int = Field(description="Attempts matching the filter.")
    n_attempts: int = Field(description="Attempts stored so far (unfiltered).")
    successes: int = Field(description="Successful attempts in the whole run.")


class RedTeamStartRequest(StrictModel):
    """Start an attack (a ``redteam`` job; the run id is assigned up front)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_id: Id | None = Field(None, description="Default: the default (promoted) text model.")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="RedTeamConfig fields to change from the defaults (method, goal, implant, "
        "budget, population, seed, sentry = the SentryConfig of the defence, whose fields "
        "left out take the model backend's stream defaults, ...). "
        "A seeds_file must lie inside the artifact root (e.g. flagged_prompts.json).",
    )
    run_id: Id | None = Field(None, description="Default: a new id.")


class RedTeamStarted(BaseModel):
    run_id: str = Field(description="Follow it at /api/redteam/{run_id}/stream.")
    job_id: str
    job: Job


class RedTeamStreamStatus(BaseModel):
    """Data of the SSE ``status`` event."""

    run_id: str
    status: RedTeamStatus
    n_done: int = Field(description="Queries evaluated so far.")
    n_total: int | None = Field(None, description="The query budget.")
    error: str | None = None


class RedTeamStreamIterations(BaseModel):
    iterations: list[RedTeamIteration]


class RedTeamStreamAttempts(BaseModel):
    attempts: list[RedTeamAttempt]


class RedTeamStreamDoc(BaseModel):
    """Documentation only: the data carried by each SSE event name of the red-team stream."""

    status: RedTeamStreamStatus
    iterations: RedTeamStreamIterations
    attempts: RedTeamStreamAttempts
    summary: RedTeamSummary
    missing: dict[str, str]
