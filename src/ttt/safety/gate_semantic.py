"""The gate's semantic stage: MiniLM embedding -> logistic head, stacked with the n-gram score.

For one window of text with n-gram probability ``p_ng``:

    e      = MiniLM_int8(window)                       # (384,), L2-normalised
    h      = relu(e · W1 + b1)                         # (H,), H = 64
    p_sem  = σ(h · w2 + b2)                            # the embedding head (a small MLP)
    p      = σ(a_ng · logit(p_ng) + a_sem · logit(p_sem) + c)   # the stacked probability

Both heads and the stacker are fitted by our code (:mod:`ttt.safety.gate_train`), the
stacker on out-of-fold scores; ``threshold`` (on ``p``) and ``band_low`` (the n-gram
probability from which a window is embedded at all) are chosen on out-of-fold scores of
the training data too. Weights ship as JSON (``gate_semantic.json``; no pickle). The
embedding model loads on the first window that needs it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ttt.safety.embedder import EMBED_DIM, EMBED_MODEL, EMBED_PACKAGE, Embedder, get_embedder
from ttt.safety.shipped import read_shipped, read_weights_file
from ttt.store.io import atomic_write_text

__all__ = ["DEFAULT_STAGE", "SemanticStage", "fit_mlp", "load_default_stage", "logit", "mlp_logit"]

SCHEMA_VERSION = 1
KIND = "gate_semantic_stack"
DEFAULT_STAGE = "gate_semantic.json"
_CLIP = 12.0  # logits are clipped to +-12 (probabilities 6e-6 .. 1 - 6e-6)


def logit(p: float | np.ndarray) -> Any:
    """log(p / (1 - p)), clipped to +-12."""
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.clip(np.log(q / (1 - q)), -_CLIP, _CLIP)


def mlp_logit(
    emb: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: float
) -> np.ndarray:
    """emb (N, 384) -> (N,) logits of a one-hidden-layer ReLU network (clipped)."""
    h = np.maximum(0.0, emb.astype(np.float64) @ w1 + b1)  # (N, H)
    return np.clip(h @ w2 + b2, -_CLIP, _CLIP)


def fit_mlp(
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray | None = None,
    *,
    hidden: int = 64,
    l2: float = 1e-4,
    steps: int = 400,
    lr: float = 3e-3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Class-balanced, L2-regularised one-hidden-layer ReLU classifier by full-batch Adam.

    x (N, D), y (N,) in {0, 1}, ``weight`` scales rows inside their class (each class
    carries half the mass). Deterministic for a given ``seed`` (the initial weights)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(np.unique(y)) < 2:
        raise ValueError("fit_mlp needs both classes")
    n, d = x.shape
    sw = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64).copy()
    for c in (0, 1):
        sw[y == c] *= 0.5 / sw[y == c].sum()
    rng = np.random.default_rng(seed)
    params = [
        rng.normal(0.0, 1.0 / math.sqrt(d), (d, hidden)),  # w1 (D, H)
        np.zeros(hidden),  # b1 (H,)
        rng.normal(0.0, 1.0 / math.sqrt(hidden), hidden),  # w2 (H,)
        np.zeros(1),  # b2
    ]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t in range(1, steps + 1):
        h = np.maximum(0.0, x @ params[0] + params[1])  # (N, H)
        z = h @ params[2] + params[3][0]  # (N,)
        r = sw * (1.0 / (1.0 + np.exp(-np.clip(z, -60, 60))) - y)  # d loss / d z
        dh = np.outer(r, params[2]) * (h > 0)  # (N, H)
        grads = [
            x.T @ dh + l2 * params[0],  # (D, H)
            dh.sum(0),  # (H,)
            h.T @ r + l2 * params[2],  # (H,)
            r.sum(keepdims=True),  # (1,)
        ]
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            p -= lr * (m[i] / (1 - 0.9**t)) / (np.sqrt(v[i] / (1 - 0.999**t)) + 1e-8)
    return params[0], params[1], params[2], float(params[3][0])


@dataclass
class SemanticStage:
    """Embedding head + stacker + thresholds; see the module docstring."""

    w1: np.ndarray  # (384, H)
    b1: np.ndarray  # (H,)
    w2: np.ndarray  # (H,)
    b2: float
    stack: tuple[float, float, float]  # (a_ng, a_sem, c)
    threshold: float
    band_low: float
    meta: dict[str, Any] = field(default_factory=dict)
    _embedder: Embedder | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.w1 = np.asarray(self.w1, dtype=np.float64)
        self.b1 = np.asarray(self.b1, dtype=np.float64)
        self.w2 = np.asarray(self.w2, dtype=np.float64)
        h = self.b1.shape[0] if self.b1.ndim == 1 else -1
        if self.w1.shape != (EMBED_DIM, h) or self.w2.shape != (h,):
            raise ValueError(
                f"head shapes must be w1 ({EMBED_DIM}, H), b1 (H,), w2 (H,); got "
                f"{self.w1.shape}, {self.b1.shape}, {self.w2.shape}"
            )
        for name in ("w1", "b1", "w2"):
            if not np.isfinite(getattr(self, name)).all():
                raise ValueError(f"{name} must be finite")
        if len(self.stack) != 3 or not all(math.isfinite(x) for x in self.stack):
            raise ValueError(f"stack must be three finite numbers, got {self.stack!r}")
        if not math.isfinite(self.b2):
            raise ValueError(f"b2 must be finite, got {self.b2!r}")
        for name in ("threshold", "band_low"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v!r}")

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(quantized=True)
        return self._embedder

    def head_logit(self, emb: np.ndarray) -> np.ndarray:
        """emb (N, 384) -> (N,) logits of the embedding head (clipped)."""
        return mlp_logit(emb, self.w1, self.b1, self.w2, self.b2)

    def stack_prob(self, ng_logit: np.ndarray, sem_logit: np.ndarray) -> np.ndarray:
        a, b, c = self.stack
        z = a * np.asarray(ng_logit) + b * np.asarray(sem_logit) + c
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))

    def stacked_prob(self, window: str, p_ng: float) -> float:
        """The stacked probability of one window whose n-gram probability is ``p_ng``."""
        e = self.embedder.embed_one(window)[None, :]  # (1, 384)
        return float(self.stack_prob(logit(p_ng), self.head_logit(e))[0])

    # -- persistence (JSON only)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "embedding": {
                "package": EMBED_PACKAGE,
                "model": EMBED_MODEL,
                "dim": EMBED_DIM,
                "variant": "int8 dynamic quantisation of every Linear, one text per batch",
                "normalize": True,
            },
            "stack": [float(f"{x:.7g}") for x in self.stack],
            "threshold": float(f"{self.threshold:.6g}"),
            "band_low": float(f"{self.band_low:.6g}"),
            "meta": self.meta,
            "b2": float(f"{self.b2:.7g}"),
            "w2": [float(f"{w:.7g}") for w in self.w2],
            "b1": [float(f"{w:.7g}") for w in self.b1],
            "w1": [[float(f"{w:.7g}") for w in row] for row in self.w1],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, where: str = "semantic stage") -> SemanticStage:
        if d.get("schema_version") != SCHEMA_VERSION or d.get("kind") != KIND:
            raise ValueError(
                f"{where}: unsupported file (schema_version {d.get('schema_version')!r}, kind "
                f"{d.get('kind')!r}); expected {SCHEMA_VERSION} / {KIND!r}"
            )
        try:
            a, b, c = (float(x) for x in d["stack"])
            return cls(
                w1=np.asarray(d["w1"], dtype=np.float64),
                b1=np.asarray(d["b1"], dtype=np.float64),
                w2=np.asarray(d["w2"], dtype=np.float64),
                b2=float(d["b2"]),
                stack=(a, b, c),
                threshold=float(d["threshold"]),
                band_low=float(d["band_low"]),
                meta=dict(d.get("meta", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: malformed semantic stage ({exc})") from exc

    def save(self, path: str | Path) -> None:
        text = json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))
        atomic_write_text(path, text + "\n")

    @classmethod
    def load(cls, path: str | Path) -> SemanticStage:
        d, where = read_weights_file(path)
        return cls.from_dict(d, where=where)


@lru_cache(maxsize=1)
def load_default_stage() -> SemanticStage:
    """The stage shipped in the package (``ttt/safety/gate_semantic.json``), read once."""
    d, where = read_shipped(
        DEFAULT_STAGE, "semantic stage", "train it with python -m ttt.safety.gate_train"
    )
    return SemanticStage.from_dict(d, where=where)
