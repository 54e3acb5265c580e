"""Chat sessions (``text_sessions/<session_id>/``): summaries, detail with the last turn's
stats, the trace (one record per turn), the chunk events, the requests that create, message,
fork, reset, re-configure and flag a session, and flagged prompts. The stored formats are
documented in ``ttt.text.chat``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ttt.api.models.common import Id, ItemError, StrictModel
from ttt.api.models.text_runs import SentryEvent

# Longest prompt a message may carry (characters). Every prompt chunk is one guarded write
# on the server's CPU, so this also bounds the work one request can ask for.
MAX_PROMPT_CHARS = 8000
MAX_REASON_CHARS = 500
MAX_ANSWER_CHARS = 500
# At least one character that is not whitespace (Python's str.strip() also strips \x1c-\x1f).
NOT_BLANK = r"[^\s\x1c-\x1f]"


class ChatParent(BaseModel):
    """Where a forked session branched off: the parent and its last turn at the time."""

    model_config = ConfigDict(extra="allow")

    session_id: str
    turn: int | None = None
    with_momentum: bool | None = None


class ChatGeneration(BaseModel):
    """Sampling defaults of a session (a message may override them)."""

    model_config = ConfigDict(extra="allow")

    max_tokens: int = 64
    temperature: float = 0.8
    top_k: int | None = 40


class ChatSessionSummary(BaseModel):
    """One session in the listing (session.json's head)."""

    model_config = ConfigDict(protected_namespaces=())

    session_id: str
    model_id: str | None = None
    backend: str = Field(
        "tinylm", description="tinylm (context-net fast weights) or hf (LoRA fast weights)."
    )
    status: str = "active"
    created_at: str | None = None
    updated_at: str | None = None
    n_turns: int = 0
    safety: str | None = Field(None, description="SentryConfig.safety of the session.")
    parent: ChatParent | None = None


class ChatSessionList(BaseModel):
    items: list[ChatSessionSummary] = Field(description="Most recently updated first.")
    total: int
    errors: list[ItemError] = Field(default_factory=list, description="Unreadable sessions.")


class ChatSessionInfo(BaseModel):
    """session.json as stored."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    session_id: str
    model_id: str | None = None
    model_weights_sha256: str | None = None
    backend: str = Field(
        "tinylm", description="tinylm (context-net fast weights) or hf (LoRA fast weights)."
    )
    plastic: dict[str, Any] = Field(
        default_factory=dict,
        description="The fast weights: {kind: context_net, rank} or {kind: lora, rank, "
        "alpha, targets, layers, ...}.",
    )
    write: dict[str, Any] = Field(
        default_factory=dict, description="WriteConfig: what a write trains on."
    )
    created_at: str | None = None
    updated_at: str | None = None
    config: dict[str, Any] = Field(
        default_factory=dict, description="The full SentryConfig that defends every write."
    )
    generation: ChatGeneration = Field(default_factory=ChatGeneration)
    parent: ChatParent | None = None
    n_turns: int = 0
    status: str = "active"
    resets: list[dict[str, Any]] = Field(
        default_factory=list, description="[{turn, created_at}]: resets of the fast weights."
    )


class ChatGateDecision(BaseModel):
    """The gate's decision on one prompt chunk."""

    model_config = ConfigDict(extra="allow")

    chunk: int
    allowed: bool
    reasons: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list, description="Rules that fired.")


class ChatUpdate(BaseModel):
    """The write of one prompt chunk: committed, rolled back or blocked, and why."""

    model_config = ConfigDict(extra="allow")

    chunk: int
    status: str = Field(
        description="commit | blocked_gate | rollback_canary | rollback_grad_norm | "
        "rollback_loss_regression | rollback_state_norm | throttled_commit | skipped"
    )
    reasons: list[str] = Field(default_factory=list, description="Plain English.")
    committed: bool = False
    canary_delta: float | None = None
    update_norm: float | None = None


class ChatTurn(BaseModel):
    """One turn of a session (a line of trace.jsonl)."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    turn: int
    created_at: str | None = None
    prompt: str = ""
    completion: str = ""
    blocked: bool = Field(False, description="True if the gate blocked any prompt chunk.")
    gate: list[ChatGateDecision] = Field(default_factory=list)
    updates: list[ChatUpdate] = Field(default_factory=list)
    committed_chunks: int = 0
    fast_weight_norm: float | None = Field(None, description="After the turn.")
    latency_ms: dict[str, float | None] = Field(
        default_factory=dict, description="update, generate, total."
    )
    model_id: str | None = None
    flagged: bool = False
    flag_reason: str | None = None
    seed: int | None = Field(None, description="Sampling seed of the reply.")
    stopped: str | None = Field(None, description="'eos' or 'max_tokens'.")
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    safety: str | None = Field(None, description="The safety mode the turn ran under.")


class ChatStats(BaseModel):
    """Figures over the whole trace, and the last turn."""

    n_turns: int
    blocked_turns: int = Field(description="Turns with at least one blocked prompt chunk.")
    chunks: int = Field(description="Prompt chunks seen.")
    committed_chunks: int
    stopped_chunks: int = Field(description="Chunks blocked by the gate or rolled back.")
    flagged_turns: int
    fast_weight_norm: float | None = Field(None, description="After the last turn.")
    statuses: dict[str, int] = Field(default_factory=dict, description="Chunks per status.")
    last_turn: ChatTurn | None = None


class ChatSessionDetail(BaseModel):
    session: ChatSessionInfo
    stats: ChatStats


class ChatTrace(BaseModel):
    items: list[ChatTurn] = Field(description="In turn order.")
    total: int = Field(description="Turns stored.")


class ChatEvent(SentryEvent):
    """The full Sentry-format event of one prompt chunk (a line of events.jsonl)."""

    turn: int


class ChatEvents(BaseModel):
    items: list[ChatEvent]
    total: int = Field(description="Events matching the filter.")
    n_events: int = Field(description="Events stored (unfiltered).")


class ChatGenerationIn(StrictModel):
    """Sampling defaults to change from the built-in ones."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(None, ge=1, le=512)
    temperature: float | None = Field(None, ge=0, le=5)
    top_k: int | None = Field(None, ge=1, le=100_000)


class ChatCreateRequest(StrictModel):
    """Create a session on a text model, defended by a SentryConfig."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_id: Id | None = Field(None, description="Default: the default (promoted) text model.")
    session_id: Id | None = Field(None, description="Default: a new id.")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="SentryConfig fields to change from the chat defaults (SentryConfig's, "
        "with lr 0.05 and steps_per_update 2): safety, chunk_tokens, lr, canary_max_delta, "
        "spfw_mode, gate, ...",
    )
    generation: ChatGenerationIn | None = None


class ChatMessageRequest(StrictModel):
    """One user message: its prompt is written into the fast weights (every chunk through
    the session's defences), then a reply is sampled."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description=f"The message (at most {MAX_PROMPT_CHARS:,} characters).",
    )
    max_tokens: int | None = Field(None, ge=1, le=512, description="Default: the session's.")
    temperature: float | None = Field(None, ge=0, le=5, description="Default: the session's.")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="Default: the turn number.")


class ChatForkRequest(StrictModel):
    model_config = ConfigDict(extra="forbid")

    new_id: Id | None = Field(None, description="Default: a new id.")
    with_momentum: bool = Field(
        True, description="Copy the optimiser state of the fast weights too (else fresh)."
    )


class ChatSafetyPatch(StrictModel):
    """SentryConfig fields to change for the session's next writes."""

    model_config = ConfigDict(extra="forbid")

    overrides: dict[str, Any] = Field(
        description="e.g. {'safety': 'gate'} or {'canary_max_delta': 0.1, 'gate': {...}}."
    )


class ChatProbeRequest(StrictModel):
    """A memory probe: a question (and the answer you expect) asked with and without the
    session's fast weights; nothing is written."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        pattern=NOT_BLANK,
        description=f"The question (at most {MAX_PROMPT_CHARS:,} characters).",
    )
    expected: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_ANSWER_CHARS,
        pattern=NOT_BLANK,
        description="The answer you expect: its loss (mean NLL per token) is reported too.",
    )
    max_tokens: int = Field(24, ge=1, le=64, description="Greedy answer length at most.")


class ChatProbeSide(BaseModel):
    """The probe under one set of fast weights."""

    answer: str = Field(description="Greedy reply to the question (a fresh context).")
    loss: float | None = Field(
        None, description="Mean NLL per token of the expected answer as the reply (nats)."
    )
    recalled: bool | None = Field(
        None, description="The reply contains the expected answer (case-insensitive)."
    )


class ChatProbe(BaseModel):
    """A memory probe's result (``ttt.text.probe``)."""

    model_config = ConfigDict(protected_namespaces=())

    session_id: str
    model_id: str
    backend: str
    n_turns: int
    fast_weight_norm: float | None = Field(None, description="‖W − W₀‖ of the session.")
    question: str
    expected: str | None = None
    scored_text: str | None = Field(
        None,
        description="The exact reply text scored (a model without a chat template: a space "
        "before the expected answer).",
    )
    answer_tokens: int | None = Field(None, description="Tokens of scored_text.")
    max_tokens: int
    with_fast_weights: ChatProbeSide
    without_fast_weights: ChatProbeSide = Field(
        description="A fresh session's fast weights (the base model)."
    )
    loss_delta: float | None = Field(
        None, description="loss with − loss without (negative: the fast weights help)."
    )
    seconds: float


class ChatDeleted(BaseModel):
    session_id: str
    deleted: bool = True


class ChatFlagRequest(StrictModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS)


class FlaggedPrompt(BaseModel):
    """One entry of flagged_prompts.json (seeds for the red team, input for review)."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    id: str
    text: str
    source: str = Field(description="chat | sleep | user")
    session_id: str | None = None
    turn: int | None = None
    model_id: str | None = None
    reason: str = ""
    created_at: str | None = None


class FlaggedPromptList(BaseModel):
    items: list[FlaggedPrompt] = Field(description="Newest first.")
    total: int
    seeds_file: str = Field(
        description="The file's path inside the artifact root (a red-team seeds_file)."
    )


class ChatTokenData(BaseModel):
    """Data of the SSE ``token`` event: the next piece of the reply."""

    text: str


class ChatErrorData(BaseModel):
    """Data of the SSE ``error`` event: the message failed after the stream started."""

    status: int
    detail: str


class ChatStreamDoc(BaseModel):
    """Documentation only: the data carried by each SSE event name of a message stream."""

    token: ChatTokenData
    turn: ChatTurn
    error: ChatErrorData
