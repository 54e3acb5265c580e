"""What a chat turn runs on: its configs, prompt checks, and the loaded models shared by the
sessions that use them (one ``SentryMonitor`` per config over the model's fast weights)."""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from torch import Tensor

from ttt.configs import from_dict
from ttt.models import registry
from ttt.models.protocol import FastWeightLm
from ttt.models.registry import ModelStateError
from ttt.store import ArtifactStore, NotFoundError
from ttt.text.monitor import SentryConfig, SentryMonitor

MAX_PROMPT_CHARS = 100_000
MAX_GEN_TOKENS = 4096
# Chat's write settings where they differ from SentryConfig's (which are tuned for streaming
# documents), per backend. TinyLm: each prompt is written with 2 Muon steps at lr 0.05, chosen
# on benchmarks/bench_chat.py seeds 0-2 (best fact-specific loss drop under safety "all") and
# confirmed on seeds 3-5: 2.36 nats drop vs 0.40 with the Sentry's lr 0.02 x 1 step. HF
# (LoRA): AdamW lr 1e-3 x 8 steps, chosen with `ttt bench memory --split tune` (facts of the
# tuning pools, seeds 0-1) among Muon 6e-3 x 4, Muon 4e-3 x 6, AdamW 1e-3 x 8 and the qa
# objective (with and without anchors), by the rule fixed beforehand: highest binding at 4
# facts, then recall at 1 fact, then the smallest held-out perplexity rise with control
# leak <= 0.10 (all tied at binding 0 and recall 0.5; AdamW +2.8% vs Muon +13.9%).
CHAT_DEFAULTS: dict[str, dict[str, Any]] = {
    "tinylm": {"lr": 0.05, "steps_per_update": 2},
    "hf": {"optimizer": "adamw", "lr": 0.001, "steps_per_update": 8, "chunk_tokens": 256},
}


def chat_config(
    overrides: Mapping[str, Any] | None = None, backend: str = "tinylm"
) -> SentryConfig:
    """A chat session's SentryConfig: the backend's ``CHAT_DEFAULTS`` over SentryConfig's
    defaults (every defence on), then ``overrides``."""
    return SentryConfig.from_dict({**CHAT_DEFAULTS.get(backend, {}), **(overrides or {})})


class ModelMismatchError(ModelStateError):
    """A session's model no longer has the weights the session's fast weights were learned on."""


@dataclass
class GenerationConfig:
    """How a turn's reply is sampled (greedy when ``temperature`` is 0)."""

    max_tokens: int = 64
    temperature: float = 0.8
    top_k: int | None = 40

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"GenerationConfig.{name} {why}, got {getattr(self, name)!r}")

        m = self.max_tokens
        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m <= MAX_GEN_TOKENS:
            raise bad("max_tokens", f"must be an int in [0, {MAX_GEN_TOKENS}]")
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
            raise bad("temperature", "must be a finite number")
        if not 0 <= t <= 100:
            raise bad("temperature", "must be in [0, 100]")
        k = self.top_k
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 10**6):
            raise bad("top_k", "must be an int in [1, 1000000] or null (no limit)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GenerationConfig:
        return from_dict(cls, d, "GenerationConfig")


def check_prompt(prompt: str | bytes) -> str:
    """The prompt as text, or ``ValueError``: not UTF-8, lone surrogates, empty, too long."""
    if isinstance(prompt, (bytes, bytearray)):
        try:
            prompt = bytes(prompt).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"prompt is not valid UTF-8 (bad byte at offset {e.start})") from e
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"prompt is not valid Unicode text (lone surrogate at index {e.start})"
        ) from e
    if not prompt.strip():
        raise ValueError("prompt is empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"prompt has {len(prompt)} characters, more than {MAX_PROMPT_CHARS}")
    return prompt


def check_seed(seed: int | None) -> int | None:
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63
    ):
        raise ValueError(f"seed must be an int in [0, 2**63), got {seed!r}")
    return seed


def turn_seed(cfg: SentryConfig, turn: int) -> int:
    """The sampling seed of a turn when none is given: a function of the config and turn."""
    return (cfg.seed * 1_000_003 + turn) % (2**63)


def fast_weight_norm(weights: Mapping[str, Tensor], initial: Mapping[str, Tensor]) -> float:
    """Frobenius norm of (fast weights − a fresh session's): how much has been written."""
    sq = sum(float((weights[n].double() - initial[n].double()).pow(2).sum()) for n in initial)
    return math.sqrt(sq)


# ---------------------------------------------------------------------------- model cache


class Runtime:
    """One loaded model shared by the sessions that use it, with one monitor per config.

    The monitors all write the same fast-weight tensors, so a turn holds ``lock`` from
    loading its session's state to reading the new state back."""

    def __init__(self, lm: FastWeightLm) -> None:
        self.lm = lm
        self.weights_sha256 = lm.weights_sha256
        self.initial = {n: t.cpu() for n, t in lm.initial_plastic().items()}
        self.lock = threading.Lock()
        self._monitors: OrderedDict[str, SentryMonitor] = OrderedDict()

    def monitor(self, cfg: SentryConfig, store: ArtifactStore) -> SentryMonitor:
        key = json.dumps(cfg.to_dict(), sort_keys=True)
        mon = self._monitors.get(key)
        if mon is None:
            mon = SentryMonitor(self.lm, cfg, store=store, reference="chat_reference")
            self._monitors[key] = mon
            while len(self._monitors) > 8:
                self._monitors.popitem(last=False)
        self._monitors.move_to_end(key)
        return mon


_CACHE: OrderedDict[tuple[Any, ...], Runtime] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 3


def clear_cache() -> None:
    """Forget every loaded model (the next turn loads from disk, as a new process would)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def runtime(store: ArtifactStore, model_id: str) -> Runtime:
    """The cached runtime of a model (loaded on first use; reloaded when its weights change)."""
    meta = registry.read_meta(store, model_id)
    stamp: tuple[int, int] | None = None
    if registry.backend_of(meta) == "tinylm":
        path = registry.model_dir(store, model_id) / registry.WEIGHTS_FILE
        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None  # load_model explains (still training, failed...)
    key = (str(store.root), model_id, meta.get("weights_sha256"), stamp)
    with _CACHE_LOCK:
        rt = _CACHE.get(key)
        if rt is None:
            rt = Runtime(registry.load_model(store, model_id))
            _CACHE[key] = rt
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        _CACHE.move_to_end(key)
        return rt


def checked_runtime(store: ArtifactStore, meta: Mapping[str, Any]) -> Runtime:
    """The runtime of a session's model, refused when the model's weights changed since."""
    sid, mid = meta["session_id"], meta["model_id"]
    try:
        rt = runtime(store, mid)
    except NotFoundError as e:
        raise NotFoundError(
            f"text session {sid!r} uses text model {mid!r}, which is gone ({e})"
        ) from e
    if rt.weights_sha256 != meta.get("model_weights_sha256"):
        raise ModelMismatchError(
            f"text session {sid!r} was learned on text model {mid!r} with weights sha256 "
            f"{str(meta.get('model_weights_sha256'))[:12]}..., but that model's weights now "
            f"hash to {rt.weights_sha256[:12]}...; its fast weights do not fit them. Start a "
            "new session on the model."
        )
    return rt


def initial_state_tensors(mon: SentryMonitor) -> dict[str, Tensor]:
    """A fresh session's optimiser/engine tensors (no momentum, fresh engine)."""
    mon.reset_write_state()
    return mon.state_tensors()


def without_momentum(tensors: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The write state with a fresh optimiser (no momentum, no AdamW moments or step count);
    the engine state (lr, histories) is kept."""
    return {k: v for k, v in tensors.items() if not k.startswith("optim.")}
