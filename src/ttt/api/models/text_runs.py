"""Sentry runs (``text_runs/<run_id>/``): summaries, request, per-chunk events, series, and
the request that starts a run. The stored formats are documented in ``ttt.text.sentry``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ttt.api.models.common import Id, ItemError, StrictModel
from ttt.api.models.jobs import Job

# Status of a run as the API reports it: the stored summary's, except ``interrupted`` for a
# run whose summary still says running although the job writing it has ended.
TextRunStatus = Literal["running", "completed", "failed", "cancelled", "interrupted"]

# Largest text a POST accepts (characters). Bigger bodies are refused before parsing (413,
# the server's max_body_bytes); within it, longer texts are a 422 naming ``text``.
MAX_TEXT_CHARS = 200_000


class TextRunSummary(BaseModel):
    """One run in the listing: the request head and the summary's figures."""

    model_config = ConfigDict(protected_namespaces=())

    run_id: str
    status: TextRunStatus
    error: str | None = None
    created_at: str | None = None
    model_id: str | None = None
    backend: str | None = Field(
        None, description="tinylm (context-net fast weights) or hf (LoRA fast weights)."
    )
    backbone: str | None = None
    objective: str | None = None
    safety: str | None = None
    chunk_tokens: int | None = None
    source: str | None = None
    keep_text: bool = False
    n_chars: int | None = None
    n_tokens: int | None = None
    n_chunks: int | None = None
    n_chunks_done: int = 0
    counts: dict[str, int] = Field(default_factory=dict, description="Chunks per status.")
    committed: int = 0
    blocked: int = 0
    rolled_back: int = 0
    loss_first: float | None = None
    loss_last: float | None = None
    loss_mean: float | None = None
    canary_start: float | None = None
    canary_end: float | None = None
    canary_delta_total: float | None = None
    max_grad_norm: float | None = None
    duration_s: float | None = None
    updated_at: str | None = None


class TextRunList(BaseModel):
    items: list[TextRunSummary] = Field(description="Newest first.")
    total: int
    errors: list[ItemError] = Field(default_factory=list, description="Unreadable runs.")


class TextRunRequestInfo(BaseModel):
    """request.json as stored; ``text`` only when the run was stored with ``keep_text``."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    run_id: str
    created_at: str | None = None
    model_id: str | None = None
    model_weights_sha256: str | None = None
    backend: str | None = Field(
        None, description="tinylm (context-net fast weights) or hf (LoRA fast weights)."
    )
    backbone: str | None = None
    objective: str | None = None
    safety: str | None = None
    chunk_tokens: int | None = None
    config: dict[str, Any] = Field(default_factory=dict, description="The full SentryConfig.")
    canaries: list[str] = Field(default_factory=list)
    text_sha256: str | None = None
    n_chars: int | None = None
    n_tokens: int | None = None
    n_chunks: int | None = None
    keep_text: bool = False
    text: str | None = Field(None, description="The monitored text (keep_text runs only).")
    source: str | None = None


class TextRunDetail(BaseModel):
    summary: TextRunSummary
    request: TextRunRequestInfo


class GateRecord(BaseModel):
    """The gate's decision on a chunk."""

    model_config = ConfigDict(extra="allow")

    allowed: bool
    reasons: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list, description="Rules that fired.")
    scores: dict[str, float | None] = Field(default_factory=dict)
    latency_ms: float | None = None


class CanaryRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    before: float | None = None
    after: float | None = None
    delta: float | None = None
    z: float | None = None


class TopToken(BaseModel):
    """A token with one of the chunk's largest influences on the write."""

    token: str | None = Field(description="None unless the run kept its text.")
    pos: int = Field(description="Position in the chunk.")
    score: float


class SentryEvent(BaseModel):
    """One chunk of a run (a line of events.jsonl). ``text``, ``tokens`` and ``influence``
    only for runs stored with ``keep_text``."""

    model_config = ConfigDict(extra="allow")

    chunk: int
    token_start: int
    token_end: int
    char_start: int
    char_end: int
    status: str = Field(
        description="commit | blocked_gate | rollback_canary | rollback_grad_norm | "
        "rollback_loss_regression | rollback_state_norm | throttled_commit | skipped"
    )
    reasons: list[str] = Field(default_factory=list, description="Plain English.")
    loss: float | None = None
    grad_norm: float | None = None
    grad_norm_z: float | None = None
    update_norm: float | None = None
    update_norm_z: float | None = None
    compression_ratio: float | None = None
    canary_cos: float | None = None
    canary_dot: float | None = None
    top_tokens: list[TopToken] = Field(default_factory=list)
    gate: GateRecord | None = None
    canary: CanaryRecord | None = None
    spfw: dict[str, Any] | None = None
    timing_ms: dict[str, float] | None = None
    lr: float | None = None
    text: str | None = None
    tokens: list[str] | None = None
    influence: list[float] | None = None


class TextRunEvents(BaseModel):
    items: list[SentryEvent]
    total: int = Field(description="Events matching the filter.")
    counts: dict[str, int] = Field(description="Events per status in the whole run.")
    n_events: int = Field(description="Events stored so far (unfiltered).")


class TextRunSeries(BaseModel):
    """Per-chunk scalar signals as columns (one entry per stored event, in order)."""

    run_id: str
    status: TextRunStatus
    chunk: list[int]
    token_end: list[int]
    loss: list[float | None]
    grad_norm: list[float | None]
    grad_norm_z: list[float | None]
    update_norm: list[float | None]
    canary_delta: list[float | None] = Field(description="Canary loss after - before.")
    canary_before: list[float | None]
    compression_ratio: list[float | None]
    canary_cos: list[float | None]
    event_status: list[str]
    gate_allowed: list[bool | None] = Field(description="None where the gate was off.")


class GateThreshold(BaseModel):
    """One gate threshold, addressable as a ``rule.field`` override in SentryConfig.gate."""

    key: str = Field(description="'rule.field'")
    rule: str
    field: str
    default: bool | int | float | str | None
    description: str | None = Field(None, description="What the rule checks.")


class SentryDefaults(BaseModel):
    """Defaults and choices for a Sentry run (what a form starts from)."""

    config: dict[str, Any] = Field(description="SentryConfig() as a dict.")
    backend_defaults: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per model backend (tinylm, hf), the fields whose stream default differs "
        "from config (applied when a run on such a model leaves them out).",
    )
    safety_modes: list[str]
    objectives: list[str]
    spfw_modes: list[str]
    gate: list[GateThreshold]
    max_text_chars: int


class SentryRunRequest(StrictModel):
    """Start a Sentry run (a ``sentry_run`` job; the run id is assigned up front)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    text: str = Field(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        description=f"The text to monitor (at most {MAX_TEXT_CHARS:,} characters). It is "
        "stored only with keep_text; otherwise only its sha256 and length are.",
    )
    model_id: Id | None = Field(None, description="Default: the default (promoted) text model.")
    keep_text: bool = Field(False, description="Store the text, chunk texts and influence.")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="SentryConfig fields to change from the defaults (chunk_tokens, objective, "
        "safety, lr, canary_max_delta, canary_z, grad_z, spfw_mode, spfw_slack, gate, ...); "
        "a field left out takes the model backend's stream default (backend_defaults of "
        "/api/text_runs/_defaults), else SentryConfig's.",
    )
    run_id: Id | None = Field(None, description="Default: a new id.")


class TextRunStarted(BaseModel):
    run_id: str = Field(description="Follow it at /api/text_runs/{run_id}/stream.")
    job_id: str
    job: Job


class TextRunStreamStatus(BaseModel):
    """Data of the SSE ``status`` event: where the run stands."""

    run_id: str
    status: TextRunStatus
    n_done: int
    n_total: int | None = None
    error: str | None = None


class TextRunStreamEvents(BaseModel):
    """Data of the SSE ``events`` event: new events.jsonl records."""

    events: list[SentryEvent]


class TextRunStreamDoc(BaseModel):
    """Documentation only: the data carried by each SSE event name of the run stream."""

    status: TextRunStreamStatus
    events: TextRunStreamEvents
    summary: TextRunSummary
    missing: dict[str, str]
