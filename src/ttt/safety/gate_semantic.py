"""The gate's semantic stage: MiniLM embedding -> logistic head, stacked with the n-gram score.

For one window of text with n-gram probability ``p_ng``:

    e      = MiniLM_int8(window)                       # (384,), L2-normalised
    h      = act(e · W1 + b1)                          # (H,)
    p_sem  = σ(h · w2 + b2)                            # the embedding head
    p      = σ(a_ng · logit(p_ng) + a_sem · logit(p_sem) + c)   # the stacked probability

Two kinds of stage, told apart by ``lora`` in the file:

* **frozen** (schema 1 and 2): MiniLM as shipped; the head is a small MLP (``act`` = ReLU,
  H = 64) on its embeddings.
* **fine-tuned** (schema 2 with ``lora``): LoRA adapters on MiniLM's top layers, merged into
  the weights before int8 quantisation (:mod:`ttt.safety.gate_lora`), and a linear head
  (``act`` = identity, H = 1). A window costs the same as with the frozen model.

Heads, adapters and the stacker are fitted by our code (:mod:`ttt.safety.gate_train`), the
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
from ttt.safety.gate_lora import LoraHead, check_adapters
from ttt.safety.shipped import read_shipped, read_weights_file
from ttt.store.io import atomic_write_text

__all__ = ["DEFAULT_STAGE", "SemanticStage", "fit_mlp", "load_default_stage", "logit", "mlp_logit"]

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1: frozen stages written before the fine-tuned kind existed
KIND = "gate_semantic_stack"
DEFAULT_STAGE = "gate_semantic.json"
_CLIP = 12.0  # logits are clipped to +-12 (probabilities 6e-6 .. 1 - 6e-6)


def logit(p: float | np.ndarray) -> Any:
    """log(p / (1 - p)), clipped to +-12."""
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.clip(np.log(q / (1 - q)), -_CLIP, _CLIP)


def mlp_logit(
    emb: np.ndarray,
    w1: np.ndarray,
    b1: np.ndarray,
    w2: np.ndarray,
    b2: float,
    act: str = "relu",
) -> np.ndarray:
    """emb (N, 384) -> (N,) logits of a one-hidden-layer network (clipped); ``act`` is
    "relu" or "identity" (then the network is linear)."""
    h = emb.astype(np.float64) @ w1 + b1  # (N, H)
    if act == "relu":
        h = np.maximum(0.0, h)
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
    act: str = "relu"  # the head's hidden activation: "relu" or "identity"
    lora: LoraHead | None = None  # adapters of the fine-tuned kind (None: frozen MiniLM)
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
        if self.act not in ("relu", "identity"):
            raise ValueError(f"act must be 'relu' or 'identity', got {self.act!r}")
        if self.lora is not None:
            if self.act != "identity" or h != 1:
                raise ValueError("a fine-tuned (lora) stage has a linear head: act 'identity', H 1")
            check_adapters(self.lora)

    @classmethod
    def from_lora(
        cls,
        head: LoraHead,
        stack: tuple[float, float, float],
        threshold: float,
        band_low: float,
        meta: dict[str, Any] | None = None,
    ) -> SemanticStage:
        """A fine-tuned stage: the linear head ``e · w + b`` as a one-unit identity layer."""
        return cls(
            w1=head.w[:, None],
            b1=np.asarray([head.b]),
            w2=np.ones(1),
            b2=0.0,
            stack=stack,
            threshold=threshold,
            band_low=band_low,
            meta=dict(meta or {}),
            act="identity",
            lora=head,
        )

    @property
    def embedder(self) -> Embedder:
        """int8 MiniLM: the shared frozen one, or (fine-tuned) this stage's own, adapters
        merged before quantisation (loaded on first use, a few seconds)."""
        if self._embedder is None:
            if self.lora is None:
                self._embedder = get_embedder(quantized=True)
            else:
                lora = self.lora
                self._embedder = Embedder(
                    quantized=True, adapt=lambda m: lora.merge_into(m[0].auto_model)
                )
        return self._embedder

    def head_logit(self, emb: np.ndarray) -> np.ndarray:
        """emb (N, 384) -> (N,) logits of the embedding head (clipped)."""
        return mlp_logit(emb, self.w1, self.b1, self.w2, self.b2, self.act)

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
        lora = None
        if self.lora is not None:
            lora = {
                "scale": float(f"{self.lora.scale:.7g}"),
                "merge": "W += scale * B @ A before int8 quantisation",
                "modules": {
                    name: {"A": _rounded(a), "B": _rounded(b)}
                    for name, (a, b) in sorted(self.lora.modules.items())
                },
            }
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
            "act": self.act,
            "lora": lora,
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
        if d.get("schema_version") not in READABLE_VERSIONS or d.get("kind") != KIND:
            raise ValueError(
                f"{where}: unsupported file (schema_version {d.get('schema_version')!r}, kind "
                f"{d.get('kind')!r}); expected one of {READABLE_VERSIONS} / {KIND!r}"
            )
        try:
            a, b, c = (float(x) for x in d["stack"])
            lora = None
            if d.get("lora") is not None:
                mods = d["lora"]["modules"]
                if not isinstance(mods, dict) or not mods:
                    raise ValueError("lora.modules must be a non-empty object")
                lora = LoraHead(
                    {
                        str(k): (
                            np.asarray(v["A"], dtype=np.float64),
                            np.asarray(v["B"], dtype=np.float64),
                        )
                        for k, v in mods.items()
                    },
                    float(d["lora"]["scale"]),
                    np.asarray(d["w1"], dtype=np.float64)[:, 0],
                    float(np.asarray(d["b1"], dtype=np.float64)[0]),
                )
                for name, (la, lb) in lora.modules.items():
                    if la.ndim != 2 or lb.ndim != 2 or la.shape[0] != lb.shape[1]:
                        raise ValueError(
                            f"lora.modules.{name}: A (r, in) and B (out, r) expected, got "
                            f"{la.shape} and {lb.shape}"
                        )
            return cls(
                w1=np.asarray(d["w1"], dtype=np.float64),
                b1=np.asarray(d["b1"], dtype=np.float64),
                w2=np.asarray(d["w2"], dtype=np.float64),
                b2=float(d["b2"]),
                stack=(a, b, c),
                threshold=float(d["threshold"]),
                band_low=float(d["band_low"]),
                meta=dict(d.get("meta", {})),
                act=str(d.get("act", "relu")),
                lora=lora,
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"{where}: malformed semantic stage ({exc})") from exc

    def save(self, path: str | Path) -> None:
        text = json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))
        atomic_write_text(path, text + "\n")

    @classmethod
    def load(cls, path: str | Path) -> SemanticStage:
        d, where = read_weights_file(path)
        return cls.from_dict(d, where=where)


def _rounded(a: np.ndarray) -> list[Any]:
    """A 2-D array as nested lists of 7-significant-digit floats."""
    return [[float(f"{w:.7g}") for w in row] for row in np.asarray(a)]


@lru_cache(maxsize=1)
def load_default_stage() -> SemanticStage:
    """The stage shipped in the package (``ttt/safety/gate_semantic.json``), read once."""
    d, where = read_shipped(
        DEFAULT_STAGE, "semantic stage", "train it with python -m ttt.safety.gate_train"
    )
    return SemanticStage.from_dict(d, where=where)
