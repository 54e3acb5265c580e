"""Text models (TinyLm): summaries, detail, train log, training requests, sampling."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ttt.api.models.common import Id, StrictModel

TextModelStatus = Literal[
    "training", "completed", "failed", "cancelled", "sleep_candidate", "interrupted"
]


class TextModelSummary(BaseModel):
    """One model in the listing: status, a config summary and its final metrics."""

    model_config = ConfigDict(protected_namespaces=())

    model_id: str
    status: TextModelStatus
    promoted: bool = False
    rejected: bool = False
    is_default: bool = Field(False, description="The model other commands use by default.")
    created_at: str | None = None
    backend: str = Field(
        "tinylm", description="tinylm (trained here) or hf (an imported pretrained model)."
    )
    source: str | None = Field(
        None, description="hf: where the weights are (package, gguf or folder)."
    )
    architecture: str | None = None
    preset: str | None = None
    backbone: str | None = None
    d_model: int | None = None
    n_layers: int | None = None
    vocab_size: int | None = None
    n_params: int | None = None
    corpus_source: str | None = None
    corpus_sha256: str | None = Field(None, description="Hash of the training corpus.")
    tokenizer_sha256: str | None = Field(
        None, description="Hash of tokenizer.json: per-token losses compare only within one."
    )
    steps: int | None = Field(None, description="Steps the run is configured for.")
    step: int = Field(0, description="Steps done so far.")
    lr: float | None = None
    train_loss: float | None = Field(None, description="Final train loss (completed models).")
    val_loss: float | None = Field(None, description="Final validation loss.")
    val_ppl: float | None = None
    val_tokens: int | None = Field(None, description="Tokens in the validation split.")
    val_bytes: int | None = Field(
        None, description="UTF-8 bytes those tokens stand for (byte-level BPE; else null)."
    )
    val_bpb: float | None = Field(
        None,
        description="Validation loss in bits per byte: val_loss / ln 2 * val_tokens / "
        "val_bytes. Comparable across vocabularies, unlike val_loss (nats per token).",
    )
    tokens_per_s: float | None = None
    seconds: float | None = None
    error: str | None = None


class TextModelList(BaseModel):
    items: list[TextModelSummary] = Field(description="Newest first.")
    total: int
    default_model_id: str | None = None
    errors: list[dict[str, str]] = Field(default_factory=list)


class TextModelDetail(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    summary: TextModelSummary
    meta: dict[str, Any] = Field(description="meta.json as stored (configs, corpus, metrics).")


class TrainLogRow(BaseModel):
    """One record of train_log.jsonl (val_loss only on evaluation steps)."""

    model_config = ConfigDict(extra="allow")

    step: int
    train_loss: float | None = None
    val_loss: float | None = None
    lr: float | None = None
    adam_lr: float | None = None
    grad_norm: float | None = None
    tokens_per_s: float | None = None
    tokens: int | None = None
    seconds: float | None = None


class TrainLog(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_id: str
    status: TextModelStatus
    step: int
    steps: int | None = None
    rows: list[TrainLogRow]


class TrainLmRequest(StrictModel):
    """Start training a text model (a job; result: {model_id, status, step})."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    corpus: list[str] = Field(
        default_factory=list,
        max_length=32,
        description="Files or folders, relative to the artifact root or absolute inside it "
        "or a configured corpus folder (TTT_CORPUS_DIRS). Empty: the built-in corpus.",
    )
    preset: Literal["tiny", "demo", "default"] = "tiny"
    steps: int | None = Field(None, ge=1, le=1_000_000, description="Default: the preset's.")
    lr: float | None = Field(None, gt=0, le=1.0, description="Muon lr; default: the preset's.")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    threads: int = Field(1, ge=1, le=64, description="CPU threads for torch in the worker.")
    promote: bool = Field(False, description="Make it the default model once it completes.")
    model_id: Id | None = Field(None, description="Default: a new id.")


class TrainStreamStatus(BaseModel):
    """Data of the SSE ``status`` event of /api/text_models/{id}/stream."""

    model_config = ConfigDict(protected_namespaces=())

    model_id: str
    status: TextModelStatus
    step: int
    steps: int | None = None
    error: str | None = None


class TrainStreamRows(BaseModel):
    """Data of the SSE ``rows`` event: new train_log.jsonl records."""

    rows: list[TrainLogRow]


class TrainStreamEvents(BaseModel):
    """Documentation only: the data carried by each SSE event name of the train stream."""

    status: TrainStreamStatus
    rows: TrainStreamRows
    missing: dict[str, str]


class GenerateRequest(StrictModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field("", max_length=4000)
    max_tokens: int = Field(100, ge=1, le=512)
    temperature: float = Field(0.8, ge=0, le=5)
    top_k: int | None = Field(40, ge=1, le=100_000, description="None: sample among all.")
    seed: int = Field(0, ge=0, le=2**31 - 1)


class GenerateOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_id: str
    prompt: str
    text: str = Field(description="The continuation only.")
    n_tokens: int
    stopped: str = Field(description="'eos' or 'max_tokens'.")
    ms_per_token: float
