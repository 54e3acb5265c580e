"""Sleep (offline consolidation of chat sessions into a candidate model): the request that
starts one, the candidates with their manifest summary, and a candidate's manifest (every
memory's audit decision with reasons, before/after metrics, the replay baseline). The stored
format is documented in ``ttt.text.sleep``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ttt.api.models.common import Id, ItemError, StrictModel
from ttt.api.models.jobs import Job
from ttt.api.models.text_models import TextModelStatus


class SleepStartRequest(StrictModel):
    """Start a sleep (a ``sleep`` job). Every field but ``model_id`` and ``threads`` is a
    SleepConfig field; left out, it keeps SleepConfig's default (see /api/sleep/_defaults)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_id: Id | None = Field(
        None,
        description="The model to consolidate into. Default: the default model.",
    )
    candidate_id: Id | None = Field(None, description="Default: a new id.")
    sessions: list[Id] | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="Sessions to harvest. Default: every session of the model.",
    )
    core_path: str | None = Field(
        None,
        max_length=1024,
        description="Core text (file or folder) inside the artifact root. Default: the model's "
        "own train split.",
    )
    core_ratio: float | None = Field(
        None, ge=0, lt=1, description="Core windows per batch, in [0, 1)."
    )
    method: Literal["ewc", "replay"] | None = None
    ewc_lambda: float | None = Field(None, ge=0)
    steps: int | None = Field(None, ge=1, le=100_000)
    lr: float | None = Field(None, gt=0, lt=1)
    batch_size: int | None = Field(None, ge=1, le=1024)
    seq_len: int | None = Field(None, ge=2, le=4096)
    fisher_windows: int | None = Field(None, ge=1, le=4096)
    eval_windows: int | None = Field(None, ge=1, le=4096)
    grad_clip: float | None = Field(None, ge=0)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    compare_replay: bool | None = Field(
        None, description="With method ewc, also train the replay baseline."
    )
    auditor: dict[str, Any] | None = Field(
        None, description="AuditorConfig fields (semantic, strict_gate, reject_flagged, ...)."
    )
    threads: int = Field(1, ge=1, le=64, description="CPU threads for torch in the worker.")


class SleepStarted(BaseModel):
    candidate_id: str = Field(description="The model the sleep will write (if it completes).")
    job_id: str
    job: Job


class SleepDefaults(BaseModel):
    config: dict[str, Any] = Field(description="SleepConfig() as a dict.")
    auditor: dict[str, Any] = Field(description="AuditorConfig() as a dict.")
    methods: list[str]


class SleepLosses(BaseModel):
    model_config = ConfigDict(extra="allow")

    core_loss: float | None = Field(None, description="Held-out core loss (retention).")
    session_loss: float | None = Field(None, description="Loss on the approved memories.")


class SleepMetricsCore(BaseModel):
    model_config = ConfigDict(extra="allow")

    before: SleepLosses
    after: SleepLosses
    retention_change_pct: float | None = Field(
        None, description="Core loss change (%, + means forgetting)."
    )
    acquisition_drop_pct: float | None = Field(
        None, description="Session loss drop (%, + means learned)."
    )


class SleepMetrics(SleepMetricsCore):
    baseline_replay: SleepMetricsCore | None = Field(
        None, description="The plain-replay baseline trained on the same batches."
    )


class SleepMemory(BaseModel):
    """One harvested prompt and the auditor's decision on it."""

    model_config = ConfigDict(extra="allow")

    id: str
    session_id: str
    turn: int
    text_sha256: str | None = None
    text: str | None = None
    decision: Literal["approved", "rejected"]
    reasons: list[str] = Field(default_factory=list, description="One per failed check.")
    checks: dict[str, Any] = Field(
        default_factory=dict,
        description="gate_at_time, flagged_by_user, updates_at_time, gate_recheck, semantic, llm.",
    )


class SleepManifest(BaseModel):
    """sleep_manifest.json as stored."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    candidate_id: str | None = None
    parent_model_id: str
    parent_weights_sha256: str | None = None
    created_at: str | None = None
    status: str | None = None
    config: dict[str, Any] = Field(default_factory=dict, description="The SleepConfig.")
    auditor_config: dict[str, Any] = Field(default_factory=dict)
    sessions: list[str] = Field(default_factory=list)
    skipped_sessions: list[dict[str, Any]] = Field(default_factory=list)
    memories: list[SleepMemory] = Field(default_factory=list)
    counts: dict[str, int] = Field(
        default_factory=dict, description="memories, approved, rejected."
    )
    flagged_written: int = 0
    metrics: SleepMetrics | None = None
    consolidation: dict[str, Any] | None = None
    core: dict[str, Any] | None = None
    seconds: float | None = None


class SleepCandidateSummary(BaseModel):
    """A model written by sleep, with its manifest's figures."""

    model_config = ConfigDict(protected_namespaces=())

    candidate_id: str
    status: TextModelStatus
    promoted: bool = False
    rejected: bool = False
    is_default: bool = False
    parent_model_id: str | None = None
    created_at: str | None = None
    method: str | None = None
    sessions: list[str] = Field(default_factory=list)
    memories: int = 0
    approved: int = 0
    rejected_memories: int = 0
    flagged_written: int = 0
    retention_change_pct: float | None = None
    acquisition_drop_pct: float | None = None
    replay_retention_change_pct: float | None = None
    replay_acquisition_drop_pct: float | None = None
    seconds: float | None = None


class SleepCandidateList(BaseModel):
    items: list[SleepCandidateSummary] = Field(description="Newest first.")
    total: int
    errors: list[ItemError] = Field(default_factory=list, description="Unreadable candidates.")


class SleepCandidateDetail(BaseModel):
    summary: SleepCandidateSummary
    manifest: SleepManifest
