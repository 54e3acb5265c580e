"""What a monitored write depends on (``SentryConfig``) and the small pieces of the monitor's
bookkeeping: robust z-scores against committed writes, compressibility, the MLM mask, chunks,
the optimiser of the fast weights."""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor

from ttt.configs import from_dict
from ttt.models.reference import scalar_robust_z
from ttt.optim import MuonConfig
from ttt.safety.canary import check_canaries
from ttt.safety.gate import GateConfig

SAFETY_MODES = ("off", "gate", "rollback", "spfw", "all")
OBJECTIVES = ("ar", "mlm")
OPTIMIZERS = ("muon", "adamw")
THROTTLED_COMMIT = "throttled_commit"
MAX_LR = 10.0
MAX_STEPS_PER_UPDATE = 100
MAX_REFUSAL_CANARIES = 16
MAX_SEED = 2**32  # seeds are in [0, 2**32): seed * 1_000_003 + i stays a valid torch seed


# ---------------------------------------------------------------------------- config


@dataclass
class SentryConfig:
    """Everything a monitored write depends on; stored whole with every run and session.

    ``safety`` picks the defences: ``gate`` (rules before the write), ``rollback`` (canary
    delta and robust-z post-checks, grad-norm robust-z pre-check), ``spfw`` (projection of
    the weight change), ``all`` (the three together), ``off`` (only non-finite values are
    refused). ``optimizer``: ``muon`` (``torch.optim.Muon``, weight decay 0) or ``adamw``."""

    chunk_tokens: int = 128
    objective: str = "ar"  # "ar" next-token; "mlm" masked tokens predicted from left context
    safety: str = "all"
    lr: float = 0.02
    steps_per_update: int = 1
    optimizer: str = "muon"
    mlm_mask_prob: float = 0.15
    seed: int = 0
    gate: dict[str, Any] = field(default_factory=dict)  # GateConfig overrides "rule.field"
    throttle: bool = False  # a gate hit throttles the write (lr × throttle_factor), not blocks
    throttle_factor: float = 0.1
    canary_max_delta: float = 0.05  # absolute canary-loss rise allowed per write (nats)
    canary_z: float = 6.0  # robust z of the canary delta against committed writes
    grad_z: float = 8.0  # robust z of the grad norm against committed writes (pre-check)
    spfw_mode: str = "halfspace"
    spfw_slack: float = 0.0
    canaries: list[str] | None = None  # None = ttt.safety.canary's default set
    # Refusal canaries: [{"prompt": harmful request, "reply": the model's own refusal}]; each
    # is one more canary whose loss is the reply's loss given the prompt in the chat template,
    # so the rollback and SPFW also watch the model's refusals (None or [] = none).
    refusal_canaries: list[dict[str, str]] | None = None
    influence_top_k: int = 8

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"SentryConfig.{name} {why}, got {getattr(self, name)!r}")

        def is_int(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        def is_num(v: Any) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

        if not is_int(self.chunk_tokens) or not 2 <= self.chunk_tokens <= 4096:
            raise bad("chunk_tokens", "must be an int in [2, 4096]")
        if not is_int(self.steps_per_update) or not 1 <= self.steps_per_update <= (
            MAX_STEPS_PER_UPDATE
        ):
            raise bad("steps_per_update", f"must be an int in [1, {MAX_STEPS_PER_UPDATE}]")
        if not is_int(self.influence_top_k) or not 1 <= self.influence_top_k <= 4096:
            raise bad("influence_top_k", "must be an int in [1, 4096]")
        if not is_int(self.seed) or not 0 <= self.seed < MAX_SEED:
            raise bad("seed", "must be an int in [0, 2**32)")
        if self.objective not in OBJECTIVES:
            raise bad("objective", f"must be one of {OBJECTIVES}")
        if self.safety not in SAFETY_MODES:
            raise bad("safety", f"must be one of {SAFETY_MODES}")
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", f"must be one of {OPTIMIZERS}")
        limits = {
            "lr": (0.0, MAX_LR),
            "throttle_factor": (1e-6, 1.0),
            "canary_max_delta": (0.0, 100.0),
            "canary_z": (0.0, 1e6),
            "grad_z": (0.0, 1e6),
        }
        for name, (lo, hi) in limits.items():
            v = getattr(self, name)
            if not is_num(v):
                raise bad(name, "must be a finite number")
            if not lo < v <= hi and not (name == "throttle_factor" and v == lo):
                raise bad(name, f"must be in ({lo:g}, {hi:g}]")
        if not is_num(self.mlm_mask_prob) or not 0.0 < self.mlm_mask_prob < 1.0:
            raise bad("mlm_mask_prob", "must be in (0, 1)")
        if not isinstance(self.throttle, bool):
            raise bad("throttle", "must be true or false")
        if self.spfw_mode not in ("halfspace", "nullspace"):
            raise bad("spfw_mode", "must be 'halfspace' or 'nullspace'")
        if not is_num(self.spfw_slack) or not 0 <= self.spfw_slack <= 100:
            raise bad("spfw_slack", "must be a finite number in [0, 100]")
        if not isinstance(self.gate, dict):
            raise bad("gate", "must be an object of 'rule.field': value overrides")
        try:
            GateConfig().with_overrides(self.gate)  # unknown rule or bad threshold
        except ValueError as e:
            raise ValueError(f"SentryConfig.gate: {e}") from e
        if self.canaries is not None:
            if not isinstance(self.canaries, list):
                raise bad("canaries", "must be null or a list of strings")
            check_canaries(self.canaries, "SentryConfig.canaries")
        if self.refusal_canaries is not None:
            check_refusal_canaries(self.refusal_canaries)

    @property
    def gate_on(self) -> bool:
        return self.safety in ("gate", "all")

    @property
    def rollback_on(self) -> bool:
        return self.safety in ("rollback", "all")

    @property
    def spfw_on(self) -> bool:
        return self.safety in ("spfw", "all")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SentryConfig:
        return from_dict(cls, d, "SentryConfig")


# Document-stream write settings where they differ from SentryConfig's (which suit TinyLm),
# per backend: what ``ttt sentry run``, the API's Sentry runs and the red team's defence use
# when the field is not given (chat has its own, ``CHAT_DEFAULTS``). HF (SmolLM2 LoRA):
# SentryConfig's Muon lr 0.02 wrecks the model on a document stream (held-out loss 1.59 ->
# 2.99, canary +1.40 nats on the attacked poison tune stream of seed 100, safety off). Chosen
# by ``python benchmarks/tune_poison_hf.py`` on the benign tune stream of seed 100 (8,000
# characters, safety off) among Muon 0.002 / 0.005 and AdamW 1e-4 / 3e-4 (one step per
# chunk), by the rule: the largest held-out adaptation whose canary damage over the stream
# is at most 0.05 nats. Muon 0.002: adaptation 0.149 nats, damage 0.010; Muon 0.005 adapted a
# little more (0.159) but damaged the canaries 0.136; AdamW 1e-4 / 3e-4 adapted 0.018 / 0.064.
STREAM_DEFAULTS: dict[str, dict[str, Any]] = {
    "hf": {"optimizer": "muon", "lr": 0.002},
}


def with_stream_defaults(
    backend: str, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A partial SentryConfig dict with the backend's ``STREAM_DEFAULTS`` under ``overrides``."""
    return {**STREAM_DEFAULTS.get(backend, {}), **(overrides or {})}


def stream_config(backend: str, overrides: Mapping[str, Any] | None = None) -> SentryConfig:
    """The SentryConfig of a document stream on a model of ``backend``: SentryConfig's
    defaults, the backend's ``STREAM_DEFAULTS``, then ``overrides``."""
    return SentryConfig.from_dict(with_stream_defaults(backend, overrides))


def check_refusal_canaries(items: Any, where: str = "SentryConfig.refusal_canaries") -> None:
    """A list of at most 16 ``{"prompt", "reply"}`` objects of non-empty strings, or
    ``ValueError`` naming the item and field."""
    if not isinstance(items, list):
        raise ValueError(f"{where} must be null or a list, got {items!r}")
    if len(items) > MAX_REFUSAL_CANARIES:
        raise ValueError(f"{where}: at most {MAX_REFUSAL_CANARIES} items, got {len(items)}")
    for i, it in enumerate(items):
        if not isinstance(it, dict) or set(it) != {"prompt", "reply"}:
            raise ValueError(f'{where}[{i}] must be an object with exactly "prompt" and "reply"')
        for key in ("prompt", "reply"):
            v = it[key]
            if not isinstance(v, str) or not v.strip() or len(v) > 4000:
                raise ValueError(
                    f"{where}[{i}].{key} must be a non-empty string of at most 4000 characters"
                )


# ---------------------------------------------------------------------------- statistics


class RobustHistory:
    """Median/MAD z-scores against a bounded history of values from committed writes."""

    def __init__(self, capacity: int = 256, min_count: int = 4) -> None:
        self.values: list[float] = []
        self.capacity = capacity
        self.min_count = min_count

    def z(self, v: float | None) -> float | None:
        if v is None or not math.isfinite(v) or len(self.values) < self.min_count:
            return None
        t = torch.tensor(self.values, dtype=torch.float64)
        med = float(t.median())
        return scalar_robust_z(v, med, float((t - med).abs().median()))

    def push(self, v: float | None) -> None:
        if v is not None and math.isfinite(v):
            self.values.append(float(v))
            del self.values[: -self.capacity]


def compression_ratio(text: str) -> float:
    """zlib-compressed size / raw size of the UTF-8 bytes (low = repetitive)."""
    raw = text.encode("utf-8", "surrogatepass")
    if not raw:
        return 1.0
    return len(zlib.compress(raw, 9)) / len(raw)


def flat_grads(grads: Mapping[str, Tensor]) -> Tensor:
    return torch.cat([g.reshape(-1).double() for g in grads.values()])


def mlm_mask(cfg: SentryConfig, chunk_index: int, n: int) -> Tensor:
    """(n,) bool: the tokens the MLM objective masks in chunk ``chunk_index`` (seeded by the
    config's seed and the chunk index; at least one token)."""
    g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + chunk_index)
    masked = torch.rand(n, generator=g) < cfg.mlm_mask_prob
    if not bool(masked.any()):
        masked[int(torch.randint(n, (1,), generator=g))] = True
    return masked


def make_optimizer(cfg: SentryConfig, params: Sequence[Tensor]) -> torch.optim.Optimizer:
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(list(params), lr=cfg.lr, weight_decay=0.0)
    return MuonConfig(lr=cfg.lr).make(params)


@dataclass
class Chunk:
    """A piece of text and where it sits in the document (token and character spans)."""

    ids: list[int]
    text: str
    token_start: int
    token_end: int
    char_start: int
    char_end: int
