"""Learned n-gram scorer of the gate: word and character n-grams -> logistic regression.

Features are computed on the gate's folded view of the text (:func:`ttt.safety.textnorm.fold`:
case, compatibility forms, look-alike letters, invisible characters): word unigrams,
word bigrams and character 3- to 5-grams inside word boundaries, binary, scaled by
n**-0.75 for a text with n features (between an L2 norm and a mean, so that a long benign
text does not score high for its length alone). A vocabulary of a few thousand features is chosen
on the training rows only (document frequency, then the most class-informative), and an
L2-regularised, class-balanced logistic regression is fitted with full-batch Adam on a
sparse matrix (numpy + scipy, deterministic). Scoring a ~600-character window is one set
intersection and a short sum.

Weights ship as JSON next to this module (``gate_scorer.json``; no pickle); they are trained
with the rest of the gate by ``python -m ttt.safety.gate_train`` (windows, decoded views,
threshold choice).
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ttt.safety import textnorm
from ttt.safety.shipped import read_shipped, read_weights_file
from ttt.store.io import atomic_write_text

__all__ = [
    "SCHEMA_VERSION",
    "FeatureSpec",
    "NgramScorer",
    "TrainConfig",
    "choose_threshold",
    "extract_features",
    "fit",
    "fit_features",
    "load_default_scorer",
    "stratified_folds",
]

SCHEMA_VERSION = 1
DEFAULT_WEIGHTS = "gate_scorer.json"


@dataclass(frozen=True)
class FeatureSpec:
    """Which n-grams the scorer reads."""

    word_max_n: int = 2  # word 1..n-grams
    char_min_n: int = 3  # character n-grams inside "<word>"
    char_max_n: int = 5
    char_max_word: int = 24  # longer words contribute n-grams of their first 24 characters
    # Feature value n**-norm_power for a text with n features: 0.5 would be L2 norm, 1.0 a
    # mean; 0.75 keeps long benign text from scoring high just for being long.
    norm_power: float = 0.75

    def __post_init__(self) -> None:
        if not 1 <= self.word_max_n <= 3:
            raise ValueError(f"word_max_n must be 1..3, got {self.word_max_n}")
        if not 1 <= self.char_min_n <= self.char_max_n <= 8:
            raise ValueError(
                f"need 1 <= char_min_n <= char_max_n <= 8, got {self.char_min_n}, {self.char_max_n}"
            )
        if not 0.0 <= self.norm_power <= 1.0:
            raise ValueError(f"norm_power must be in [0, 1], got {self.norm_power}")
        if self.char_max_word < self.char_max_n:
            raise ValueError(f"char_max_word must be >= char_max_n, got {self.char_max_word}")


def _features(tokens: list[str], spec: FeatureSpec) -> set[str]:
    # Keys cannot collide: unigrams are " w ", bigrams "a b", char n-grams have no space.
    feats = {f" {w} " for w in tokens}
    if spec.word_max_n >= 2:
        feats.update(f"{a} {b}" for a, b in itertools.pairwise(tokens))
    if spec.word_max_n >= 3:
        feats.update(
            f"{a} {b} {c}" for a, b, c in zip(tokens, tokens[1:], tokens[2:], strict=False)
        )
    lo, hi, cap = spec.char_min_n, spec.char_max_n, spec.char_max_word
    for w in set(tokens):
        p = f"<{w[:cap]}>"
        n_p = len(p)
        for n in range(lo, min(hi, n_p) + 1):
            feats.update(p[i : i + n] for i in range(n_p - n + 1))
    return feats


def extract_features(text: str, spec: FeatureSpec | None = None) -> set[str]:
    """The set of n-gram features of ``text`` (on its folded view)."""
    return _features(textnorm.words(textnorm.fold(text)), spec or FeatureSpec())


@dataclass
class NgramScorer:
    """A trained scorer: feature weights, bias, and the calibrated probability threshold."""

    weights: dict[str, float]
    bias: float
    threshold: float
    spec: FeatureSpec = field(default_factory=FeatureSpec)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not math.isfinite(self.bias):
            raise ValueError(f"bias must be finite, got {self.bias}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")

    def logit_feats(self, feats: set[str]) -> float:
        """The logit of a text with these features (:func:`extract_features`)."""
        if not feats:
            return self.bias
        hit = self.weights.keys() & feats  # C-speed intersection; most features are unseen
        w = self.weights
        # fsum: exact, so the result does not depend on the set's (hash-seeded) order.
        return self.bias + math.fsum(w[f] for f in hit) * len(feats) ** -self.spec.norm_power

    def logit_tokens(self, tokens: list[str]) -> float:
        return self.logit_feats(_features(tokens, self.spec))

    def score_folded(self, folded: str, tokens: list[str] | None = None) -> float:
        """Probability for a text already passed through :func:`textnorm.fold` (the gate
        passes its word tokens too, so they are not split twice)."""
        z = self.logit_tokens(tokens if tokens is not None else textnorm.words(folded))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def score(self, text: str) -> float:
        """Injection probability of ``text``."""
        return self.score_folded(textnorm.fold(text))

    # -- persistence (JSON only)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "ngram_logreg",
            "spec": asdict(self.spec),
            "bias": self.bias,
            "threshold": self.threshold,
            "meta": self.meta,
            "weights": dict(sorted(self.weights.items())),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, where: str = "scorer") -> NgramScorer:
        if d.get("schema_version") != SCHEMA_VERSION or d.get("kind") != "ngram_logreg":
            raise ValueError(
                f"{where}: unsupported scorer file (schema_version "
                f"{d.get('schema_version')!r}, kind {d.get('kind')!r}); expected "
                f"{SCHEMA_VERSION} / 'ngram_logreg'"
            )
        try:
            weights = {str(k): float(v) for k, v in d["weights"].items()}
            return cls(
                weights=weights,
                bias=float(d["bias"]),
                threshold=float(d["threshold"]),
                spec=FeatureSpec(**d["spec"]),
                meta=dict(d.get("meta", {})),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{where}: malformed scorer file ({exc})") from exc

    def save(self, path: str | Path) -> None:
        """Write the weights as compact JSON (atomic replace)."""
        text = json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))
        atomic_write_text(path, text)

    @classmethod
    def load(cls, path: str | Path) -> NgramScorer:
        d, where = read_weights_file(path)
        return cls.from_dict(d, where=where)


@lru_cache(maxsize=1)
def load_default_scorer() -> NgramScorer:
    """The scorer shipped in the package (``ttt/safety/gate_scorer.json``), read once."""
    d, where = read_shipped(
        DEFAULT_WEIGHTS,
        "gate scorer",
        "train it (python -m ttt.safety.gate_train) or use Gate(scorer=None)",
    )
    return NgramScorer.from_dict(d, where=where)


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`fit` (fixed a priori, not searched on evaluation data)."""

    spec: FeatureSpec = field(default_factory=FeatureSpec)
    max_features: int = 12000
    min_df: int = 2
    l2: float = 3e-6  # on the mean class-balanced log loss
    steps: int = 400
    lr: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_features < 1 or self.min_df < 1 or self.steps < 1:
            raise ValueError(f"invalid TrainConfig: {self}")
        if not (self.l2 >= 0 and self.lr > 0):
            raise ValueError(f"invalid TrainConfig: {self}")


def _select_vocab(feats: Sequence[set[str]], y: np.ndarray, cfg: TrainConfig) -> list[str]:
    """Features seen in >= min_df training rows, ranked by a smoothed log-odds between the
    classes weighted by frequency (informative and not rare); ties broken by the string."""
    df_pos: Counter[str] = Counter()
    df_neg: Counter[str] = Counter()
    for f, label in zip(feats, y, strict=True):
        (df_pos if label else df_neg).update(f)
    n_pos, n_neg = max(1, int(y.sum())), max(1, int(len(y) - y.sum()))
    ranked = []
    for feat in df_pos.keys() | df_neg.keys():
        a, b = df_pos[feat], df_neg[feat]
        if a + b < cfg.min_df:
            continue
        log_odds = math.log((a + 0.5) / (n_pos + 1)) - math.log((b + 0.5) / (n_neg + 1))
        ranked.append((-abs(log_odds) * math.log1p(a + b), feat))
    ranked.sort()
    return [feat for _, feat in ranked[: cfg.max_features]]


def _matrix(feats: Sequence[set[str]], vocab: dict[str, int], power: float) -> sp.csr_matrix:
    """(N, F) sparse: row i has n_i ** -power at its features' columns (n_i = all features of
    row i, in the vocabulary or not, as :meth:`NgramScorer.logit_tokens` scores)."""
    indptr, indices, data = [0], [], []
    for f in feats:
        cols = sorted(vocab[k] for k in f if k in vocab)
        indices.extend(cols)
        if cols:
            data.extend([len(f) ** -power] * len(cols))
        indptr.append(len(indices))
    return sp.csr_matrix(
        (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), indptr),
        shape=(len(feats), len(vocab)),
    )


def _adam_logreg(
    x: sp.csr_matrix, y: np.ndarray, sw: np.ndarray, cfg: TrainConfig
) -> tuple[np.ndarray, float]:
    """Weighted (``sw``, (N,) summing to 1), L2-regularised logistic regression by
    full-batch Adam (deterministic)."""
    _, d = x.shape
    xt = x.T.tocsr()
    w = np.zeros(d)
    b = 0.0
    m_w, v_w = np.zeros_like(w), np.zeros_like(w)
    m_b = v_b = 0.0
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, cfg.steps + 1):
        z = x @ w + b  # (N,)
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
        r = sw * (p - y)  # (N,) d loss / d z
        g_w = xt @ r + 2 * cfg.l2 * w  # (F,)
        g_b = float(r.sum())
        m_w = b1 * m_w + (1 - b1) * g_w
        v_w = b2 * v_w + (1 - b2) * g_w * g_w
        m_b = b1 * m_b + (1 - b1) * g_b
        v_b = b2 * v_b + (1 - b2) * g_b * g_b
        c1, c2 = 1 - b1**t, 1 - b2**t
        w -= cfg.lr * (m_w / c1) / (np.sqrt(v_w / c2) + eps)
        b -= cfg.lr * (m_b / c1) / (math.sqrt(v_b / c2) + eps)
    return w, b


def balanced_weights(y: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """(N,) weights summing to 1, each class carrying half (``weight`` scales rows inside
    their class)."""
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64).copy()
    for c in (0, 1):
        mask = y == c
        if mask.any():
            w[mask] *= 0.5 / w[mask].sum()
    return w


def fit_features(
    feats: Sequence[set[str]],
    labels: Sequence[int],
    cfg: TrainConfig,
    *,
    weight: np.ndarray | None = None,
) -> NgramScorer:
    """Fit on precomputed feature sets (:func:`extract_features`); threshold left at 0.5."""
    y = np.asarray(labels, dtype=np.float64)
    if len(np.unique(y)) < 2:
        raise ValueError("fit needs rows of both labels")
    vocab_list = _select_vocab(feats, y, cfg)
    vocab = {f: i for i, f in enumerate(vocab_list)}
    x = _matrix(feats, vocab, cfg.spec.norm_power)
    w, b = _adam_logreg(x, y, balanced_weights(y, weight), cfg)
    weights = {f: round(float(w[i]), 5) for f, i in vocab.items() if abs(float(w[i])) >= 1e-5}
    return NgramScorer(weights=weights, bias=round(b, 6), threshold=0.5, spec=cfg.spec)


def fit(texts: Sequence[str], labels: Sequence[int], cfg: TrainConfig) -> NgramScorer:
    """Fit weights on these texts (class-balanced; threshold left at 0.5)."""
    return fit_features([extract_features(t, cfg.spec) for t in texts], labels, cfg)


def stratified_folds(strata: Sequence[str], k: int, seed: int) -> list[np.ndarray]:
    """k disjoint index arrays; each stratum (e.g. ``label|category``) is shuffled with
    ``seed`` and dealt round-robin, so every fold has its share of every stratum."""
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    by: dict[str, list[int]] = {}
    for i, s in enumerate(strata):
        by.setdefault(s, []).append(i)
    offset = 0
    for s in sorted(by):
        idx = np.array(by[s])[rng.permutation(len(by[s]))]
        for j, i in enumerate(idx):
            folds[(j + offset) % k].append(int(i))
        offset += len(idx)
    return [np.array(sorted(f), dtype=np.int64) for f in folds]


def choose_threshold(scores: np.ndarray, labels: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold whose false-positive rate (``score > threshold`` on benign rows)
    is at most ``target_fpr``."""
    neg = np.sort(scores[labels == 0])[::-1]
    if len(neg) == 0:
        return 0.5
    allowed_fp = math.floor(target_fpr * len(neg))
    if allowed_fp >= len(neg):
        return 0.0
    return float(min(1.0, neg[allowed_fp]))
