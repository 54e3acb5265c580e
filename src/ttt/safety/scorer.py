"""Learned injection scorer for the gate: word and character n-grams -> logistic regression.

Features are computed on the gate's folded view of the text (:func:`ttt.safety.textnorm.fold`:
case, compatibility forms, look-alike letters, invisible characters): word unigrams,
word bigrams and character 3- to 5-grams inside word boundaries, binary, scaled by
n**-0.75 for a text with n features (between an L2 norm and a mean, so that a long benign
text does not score high for its length alone). A vocabulary of a few thousand features is chosen
on the training rows only (document frequency, then the most class-informative), and an
L2-regularised, class-balanced logistic regression is fitted with full-batch Adam in numpy
(deterministic). Scoring a ~600-character chunk is one set intersection and a short sum.

Weights ship as JSON next to this module (``gate_scorer.json``; no pickle).

    python -m ttt.safety.scorer train --data ../shared/data/gate_dev.jsonl \\
        --out src/ttt/safety/gate_scorer.json
    python -m ttt.safety.scorer cv --data ../shared/data/gate_dev.jsonl

``cv`` prints stratified k-fold out-of-fold figures with the threshold chosen inside each
training fold (nested), so no figure comes from rows the model or threshold was fitted to.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ttt.safety import textnorm
from ttt.store.io import atomic_write_text

__all__ = [
    "SCHEMA_VERSION",
    "FeatureSpec",
    "NgramScorer",
    "TrainConfig",
    "choose_threshold",
    "confound_stratum",
    "extract_features",
    "fit",
    "load_default_scorer",
    "load_rows",
    "nested_cv_models",
    "nested_cv_scores",
    "oof_scores",
    "sample_weights",
    "stratified_folds",
    "train",
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

    def logit_tokens(self, tokens: list[str]) -> float:
        feats = _features(tokens, self.spec)
        if not feats:
            return self.bias
        hit = self.weights.keys() & feats  # C-speed intersection; most features are unseen
        w = self.weights
        return self.bias + sum(w[f] for f in hit) * len(feats) ** -self.spec.norm_power

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
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        return cls.from_dict(d, where=str(path))


@lru_cache(maxsize=1)
def load_default_scorer() -> NgramScorer:
    """The scorer shipped in the package (``ttt/safety/gate_scorer.json``), read once."""
    ref = resources.files("ttt.safety").joinpath(DEFAULT_WEIGHTS)
    try:
        text = ref.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"the shipped gate scorer {DEFAULT_WEIGHTS} is missing from the ttt.safety "
            "package; train it (python -m ttt.safety.scorer train) or use Gate(scorer=None)"
        ) from exc
    return NgramScorer.from_dict(json.loads(text), where=f"ttt/safety/{DEFAULT_WEIGHTS}")


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`fit` (fixed a priori, not searched on the dev set)."""

    spec: FeatureSpec = field(default_factory=FeatureSpec)
    max_features: int = 6000
    min_df: int = 2
    l2: float = 3e-6  # on the mean class-balanced log loss
    steps: int = 500
    lr: float = 0.2
    target_fpr: float = 0.025  # threshold calibration: out-of-fold false-positive rate
    calib_folds: int = 5
    balance_confounds: bool = False  # see sample_weights
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_features < 1 or self.min_df < 1 or self.steps < 1 or self.calib_folds < 2:
            raise ValueError(f"invalid TrainConfig: {self}")
        if not (self.l2 >= 0 and self.lr > 0 and 0.0 <= self.target_fpr < 1.0):
            raise ValueError(f"invalid TrainConfig: {self}")


def _select_vocab(feats: list[set[str]], y: np.ndarray, cfg: TrainConfig) -> list[str]:
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


def _matrix(feats: list[set[str]], vocab: dict[str, int], power: float) -> np.ndarray:
    x = np.zeros((len(feats), len(vocab)), dtype=np.float32)  # (N, F)
    for i, f in enumerate(feats):
        cols = [vocab[k] for k in f if k in vocab]
        if f:
            x[i, cols] = len(f) ** -power
    return x


_GERMAN_RE = re.compile(
    r"\b(?:und|der|die|das|ist|ich|nicht|sie|wie|was|ein|eine|zu|mit|für|auf|den|dem|du)\b|[äöüß]",
    re.IGNORECASE,
)


def confound_stratum(text: str) -> str:
    """Length bin and German-or-not: two shortcuts the development data offers (its attacks
    are longer and more often German than its benign rows) that must not be learned."""
    n = len(text)
    length = "s" if n < 60 else "m" if n < 150 else "l" if n < 300 else "xl"
    return f"{length}|{'de' if len(_GERMAN_RE.findall(text)) >= 2 else 'other'}"


def sample_weights(texts: Sequence[str], y: np.ndarray, balance_confounds: bool) -> np.ndarray:
    """(N,) weights summing to 1: each class half the mass; with ``balance_confounds`` each
    class is reweighted so its distribution over :func:`confound_stratum` matches the pooled
    one (weights clipped to [0.2, 5])."""
    w = np.ones(len(y), dtype=np.float64)
    if balance_confounds:
        strata = [confound_stratum(t) for t in texts]
        pooled = Counter(strata)
        for c in (0, 1):
            idx = np.flatnonzero(y == c)
            per_class = Counter(strata[i] for i in idx)
            for i in idx:
                s = strata[i]
                ratio = (pooled[s] / len(y)) / (per_class[s] / len(idx))
                w[i] = min(5.0, max(0.2, ratio))
    for c in (0, 1):
        mask = y == c
        if mask.any():
            w[mask] *= 0.5 / w[mask].sum()
    return w.astype(np.float32)


def _adam_logreg(
    x: np.ndarray, y: np.ndarray, sw: np.ndarray, cfg: TrainConfig
) -> tuple[np.ndarray, float]:
    """Weighted (``sw``, (N,) summing to 1), L2-regularised logistic regression by
    full-batch Adam (deterministic)."""
    _, d = x.shape
    w = np.zeros(d, dtype=np.float32)
    b = 0.0
    m_w, v_w = np.zeros_like(w), np.zeros_like(w)
    m_b = v_b = 0.0
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, cfg.steps + 1):
        z = x @ w + b  # (N,)
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
        r = sw * (p - y)  # (N,) d loss / d z
        g_w = x.T @ r + 2 * cfg.l2 * w  # (F,)
        g_b = float(r.sum())
        m_w = b1 * m_w + (1 - b1) * g_w
        v_w = b2 * v_w + (1 - b2) * g_w * g_w
        m_b = b1 * m_b + (1 - b1) * g_b
        v_b = b2 * v_b + (1 - b2) * g_b * g_b
        c1, c2 = 1 - b1**t, 1 - b2**t
        w -= cfg.lr * (m_w / c1) / (np.sqrt(v_w / c2) + eps)
        b -= cfg.lr * (m_b / c1) / (math.sqrt(v_b / c2) + eps)
    return w, b


def fit(texts: Sequence[str], labels: Sequence[int], cfg: TrainConfig) -> NgramScorer:
    """Fit weights on these rows only (threshold left at 0.5; see :func:`train`)."""
    y = np.asarray(labels, dtype=np.float32)
    feats = [extract_features(t, cfg.spec) for t in texts]
    vocab_list = _select_vocab(feats, y, cfg)
    vocab = {f: i for i, f in enumerate(vocab_list)}
    sw = sample_weights(texts, y, cfg.balance_confounds)
    w, b = _adam_logreg(_matrix(feats, vocab, cfg.spec.norm_power), y, sw, cfg)
    weights = {f: round(float(w[i]), 5) for f, i in vocab.items() if abs(float(w[i])) >= 1e-5}
    return NgramScorer(weights=weights, bias=round(b, 6), threshold=0.5, spec=cfg.spec)


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


def oof_scores(
    texts: Sequence[str],
    labels: Sequence[int],
    strata: Sequence[str],
    cfg: TrainConfig,
    *,
    k: int = 5,
    folds: list[np.ndarray] | None = None,
) -> np.ndarray:
    """Out-of-fold probabilities: every row scored by a model that never saw it."""
    folds = folds if folds is not None else stratified_folds(strata, k, cfg.seed)
    out = np.zeros(len(texts), dtype=np.float64)
    for test in folds:
        train_idx = np.setdiff1d(np.arange(len(texts)), test)
        model = fit([texts[i] for i in train_idx], [labels[i] for i in train_idx], cfg)
        out[test] = [model.score(texts[i]) for i in test]
    return out


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


def nested_cv_models(
    texts: Sequence[str],
    labels: Sequence[int],
    strata: Sequence[str],
    cfg: TrainConfig,
    *,
    k: int = 5,
    folds: list[np.ndarray] | None = None,
) -> Iterator[tuple[np.ndarray, NgramScorer]]:
    """For each outer fold: (test indices, model fitted on the other rows whose threshold
    was calibrated by an inner k-fold on those rows only)."""
    folds = folds if folds is not None else stratified_folds(strata, k, cfg.seed)
    y = np.asarray(labels)
    for test in folds:
        tr = np.setdiff1d(np.arange(len(texts)), test)
        tr_texts = [texts[i] for i in tr]
        inner = oof_scores(
            tr_texts, y[tr].tolist(), [strata[i] for i in tr], cfg, k=cfg.calib_folds
        )
        model = fit(tr_texts, y[tr].tolist(), cfg)
        model.threshold = choose_threshold(inner, y[tr], cfg.target_fpr)
        yield test, model


def nested_cv_scores(
    texts: Sequence[str],
    labels: Sequence[int],
    strata: Sequence[str],
    cfg: TrainConfig,
    *,
    k: int = 5,
    folds: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(out-of-fold probability, threshold used for that row), see :func:`nested_cv_models`."""
    probs = np.zeros(len(texts))
    thresholds = np.zeros(len(texts))
    for test, model in nested_cv_models(texts, labels, strata, cfg, k=k, folds=folds):
        probs[test] = [model.score(texts[i]) for i in test]
        thresholds[test] = model.threshold
    return probs, thresholds


def train(
    texts: Sequence[str], labels: Sequence[int], strata: Sequence[str], cfg: TrainConfig
) -> NgramScorer:
    """Fit on every row; the threshold is calibrated on k-fold out-of-fold scores at
    ``cfg.target_fpr`` (never on scores of rows a model was fitted to)."""
    oof = oof_scores(texts, labels, strata, cfg, k=cfg.calib_folds)
    thr = choose_threshold(oof, np.asarray(labels), cfg.target_fpr)
    model = fit(texts, labels, cfg)
    model.threshold = round(thr, 4)
    return model


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file with ``text`` and ``label`` (``attack``/``benign``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row.get("text"), str) or row.get("label") not in ("attack", "benign"):
            raise ValueError(f"{path}: line {n} needs a string text and label attack|benign")
        rows.append(row)
    return rows


def strata(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Stratum of each labelled row (label and category) for the stratified folds."""
    return [f"{r['label']}|{r.get('category', '')}" for r in rows]


def _main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ttt.safety.scorer", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    tr = sub.add_parser("train", help="fit on a labelled JSONL file and write the weights JSON")
    tr.add_argument("--data", required=True, type=Path)
    tr.add_argument("--out", required=True, type=Path)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--target-fpr", type=float, default=TrainConfig.target_fpr)
    cv = sub.add_parser("cv", help="nested stratified k-fold figures (JSON)")
    cv.add_argument("--data", required=True, type=Path)
    cv.add_argument("--folds", type=int, default=5)
    cv.add_argument("--seed", type=int, default=0)
    cv.add_argument("--target-fpr", type=float, default=TrainConfig.target_fpr)
    args = ap.parse_args(argv)

    rows = load_rows(args.data)
    texts = [r["text"] for r in rows]
    labels = [int(r["label"] == "attack") for r in rows]
    if args.cmd == "train":
        cfg = TrainConfig(seed=args.seed, target_fpr=args.target_fpr)
        model = train(texts, labels, strata(rows), cfg)
        model.meta = {
            "trained_on": args.data.name,
            "data_sha256": hashlib.sha256(args.data.read_bytes()).hexdigest(),
            "rows": len(rows),
            "attacks": sum(labels),
            "train_config": asdict(cfg),
            "threshold_note": f"k={cfg.calib_folds} out-of-fold FPR <= {cfg.target_fpr}",
        }
        model.save(args.out)
        print(
            json.dumps(
                {"out": str(args.out), "features": len(model.weights), "threshold": model.threshold}
            )
        )
        return 0
    cfg = TrainConfig(seed=args.seed, target_fpr=args.target_fpr)
    probs, thr = nested_cv_scores(texts, labels, strata(rows), cfg, k=args.folds)
    y = np.asarray(labels)
    pred = probs > thr
    print(
        json.dumps(
            {
                "tpr": float(pred[y == 1].mean()),
                "fpr": float(pred[y == 0].mean()),
                "folds": args.folds,
                "thresholds": sorted({round(float(t), 4) for t in thr}),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(_main())
