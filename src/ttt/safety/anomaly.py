"""Anomaly scores over update logs: which writes were unusual for their family, and why.

Every update attempt of every domain (a Nano chunk, a Sentry chunk, a chat chunk) becomes an
``UpdateRecord`` with a few signals:

==================  ==========================================================================
``write_pressure``  log10 of the gradient norm of the write
``weight_change``   log10 of the norm of the weight change the step made
``loss_change``     log of held-out loss after / before the step (Nano's post-check)
``chunk_loss_z``    the chunk's loss as a z-score against the model's own text (Sentry, chat)
``canary_delta``    the canary's loss change across the write
``rollback_burst``  rollbacks and blocks among the last ``burst_window`` attempts of the stream
``gate_score``      the gate's learned injection probability for the chunk (text domains)
``compressibility`` -log of the chunk's zlib compression ratio (repetition floods, implants)
==================  ==========================================================================

Scales differ by orders of magnitude between a Nano base and a text model, and between text
models, so every signal is scored *within its family* (one model or base, one objective,
one chunk size; ``family`` is set by whoever builds the records): a robust z-score
``(x - median) / (1.4826 * MAD)`` with a floored MAD (``MIN_SCALE`` per signal), one-sided
(only "more than usual" is suspicious for every signal here), capped at ``Z_CAP``. A record's
score is the root sum of squares of its two largest z, scaled down by ``n / min_family`` in a
family of fewer than ``min_family`` attempts; its ``why`` names each signal above
``explain_z`` with its value and the family's median. Neighbouring attempts of one stream
merge into the higher-scoring one (``merge_window``), so one burst is one finding.
``method="iforest"`` ranks by scikit-learn's IsolationForest on the same z-features instead
(fitted per family, seeded, never pickled); the explanations stay the robust z's.

    records = [UpdateRecord(key=..., family="nano:base-1:linear", ...), ...]
    findings = score(records, AnomalyConfig(top=50))
    findings[0].score, findings[0].why
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FEATURES = (
    "write_pressure",
    "weight_change",
    "loss_change",
    "chunk_loss_z",
    "canary_delta",
    "rollback_burst",
    "gate_score",
    "compressibility",
)
LABELS = {
    "write_pressure": "write pressure (grad norm)",
    "weight_change": "weight-change norm",
    "loss_change": "held-out loss change (post / pre)",
    "chunk_loss_z": "chunk loss z (vs the model's own text)",
    "canary_delta": "canary loss change",
    "rollback_burst": "rollbacks in the last attempts",
    "gate_score": "gate injection score",
    "compressibility": "compressibility (-log zlib ratio)",
}
# The smallest spread a signal is measured against (its units): below it, differences are
# noise however uniform a family is (0.02 decades of grad norm is a 5% change).
MIN_SCALE = {
    "write_pressure": 0.02,
    "weight_change": 0.02,
    "loss_change": 0.01,
    "chunk_loss_z": 0.1,
    "canary_delta": 0.0,
    "rollback_burst": 0.5,
    "gate_score": 0.02,
    "compressibility": 0.02,
}
Z_CAP = 50.0
MAD_TO_SIGMA = 1.4826
METHODS = ("robust_z", "iforest")


@dataclass(frozen=True)
class UpdateRecord:
    """One update attempt, in any domain. ``raw`` holds the untransformed values shown in
    explanations (e.g. the grad norm itself, not its log)."""

    key: str  # stable id of the attempt, e.g. "nano/<session>/<run>/t=127"
    family: str  # records are compared within a family only
    kind: str  # "nano" | "sentry" | "chat"
    item: str  # session or run id
    run: str | None  # nano run id
    position: int  # t (nano), chunk (sentry, chat)
    status: str
    features: dict[str, float]  # FEATURES -> value (NaN / missing: not measured)
    raw: dict[str, float] = field(default_factory=dict)
    turn: int | None = None  # chat turn
    text: str | None = None  # the chunk's text, when the run kept it (flag → red-team seed)

    def __post_init__(self) -> None:
        unknown = set(self.features) - set(FEATURES)
        if unknown:
            raise ValueError(f"UpdateRecord.features: unknown signal(s) {sorted(unknown)}")
        if self.kind not in ("nano", "sentry", "chat"):
            raise ValueError(f"UpdateRecord.kind must be nano, sentry or chat, got {self.kind!r}")


@dataclass(frozen=True)
class AnomalyConfig:
    """How records are scored (``ttt anomalies scan --help`` lists the same options)."""

    method: str = "robust_z"
    explain_z: float = 3.0  # a signal is named in ``why`` at this robust z or above
    burst_window: int = 8  # attempts in the rollback-burst window
    min_family: int = 8  # families smaller than this are scored but marked "small family"
    top: int = 100  # findings kept (highest scores first)
    merge_window: int = 1  # attempts of one stream this close to a higher one merge into it
    seed: int = 0  # IsolationForest seed

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"AnomalyConfig.method must be one of {METHODS}, got {self.method!r}")
        if not self.explain_z > 0:
            raise ValueError(f"AnomalyConfig.explain_z must be > 0, got {self.explain_z!r}")
        if isinstance(self.merge_window, bool) or not isinstance(self.merge_window, int):
            raise ValueError(
                f"AnomalyConfig.merge_window must be an int, got {self.merge_window!r}"
            )
        if self.merge_window < 0:
            raise ValueError(f"AnomalyConfig.merge_window must be >= 0, got {self.merge_window}")
        for name in ("burst_window", "min_family", "top"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"AnomalyConfig.{name} must be an int >= 1, got {v!r}")


@dataclass
class Finding:
    """A scored record: its score, per-signal z, and why it is unusual in plain English."""

    record: UpdateRecord
    score: float
    rank: int
    z: dict[str, float]
    why: list[str]
    family_size: int
    merged: list[str] = field(default_factory=list)  # keys of neighbours merged into this one

    def to_dict(self) -> dict[str, Any]:
        r = self.record
        return {
            "key": r.key,
            "kind": r.kind,
            "family": r.family,
            "item": r.item,
            "run": r.run,
            "position": r.position,
            "turn": r.turn,
            "status": r.status,
            "score": self.score,
            "rank": self.rank,
            "z": {k: _finite(v) for k, v in self.z.items()},
            "why": list(self.why),
            "family_size": self.family_size,
            "merged": list(self.merged),
            "signals": {k: _finite(v) for k, v in r.raw.items()},
            "has_text": r.text is not None,
        }


def _finite(v: float) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


# -- features -----------------------------------------------------------------------------------


def log10_pos(v: Any) -> float:
    """log10 of a positive number; NaN for anything else (missing, zero, negative)."""
    return math.log10(v) if isinstance(v, int | float) and v > 0 and math.isfinite(v) else math.nan


def num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else math.nan


def rollback_bursts(statuses: Sequence[str], window: int) -> list[float]:
    """For each attempt of a stream (in order): how many of the last ``window`` attempts,
    this one included, did not commit."""
    bad = np.array([s != "commit" for s in statuses], dtype=np.float64)
    c = np.concatenate([[0.0], np.cumsum(bad)])
    idx = np.arange(len(statuses))
    return list(c[idx + 1] - c[np.maximum(0, idx + 1 - window)])


# -- scoring ------------------------------------------------------------------------------------


def robust_z(values: np.ndarray, min_scale: float = 0.0) -> tuple[np.ndarray, float, float]:
    """One-sided robust z of ``values`` (NaN stays NaN) and the (median, scale) used.

    The scale is 1.4826 * MAD; when more than half the values are equal (MAD 0) it is
    1.2533 * the mean absolute deviation instead; floored at 1e-3 * |median| + 1e-12 and at
    ``min_scale`` (the signal's MIN_SCALE). A constant signal gives z = 0 and a lone departure
    from it a large (capped) z."""
    ok = np.isfinite(values)
    z = np.full(values.shape, math.nan)
    if not ok.any():
        return z, math.nan, math.nan
    v = values[ok]
    med = float(np.median(v))
    dev = np.abs(v - med)
    mad = MAD_TO_SIGMA * float(np.median(dev))
    # MAD 0 (more than half the values equal): the mean absolute deviation instead
    scale = max(
        mad if mad > 0 else 1.2533 * float(np.mean(dev)), 1e-3 * abs(med) + 1e-12, min_scale
    )
    z[ok] = np.clip((v - med) / scale, 0.0, Z_CAP)
    return z, med, scale


def _combine(zrow: np.ndarray) -> float:
    """Root sum of squares of the two largest z (missing signals count 0)."""
    top = np.sort(np.nan_to_num(zrow, nan=0.0))[-2:]
    return float(math.sqrt(float(np.sum(top * top))))


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return "n/a"
    a = abs(v)
    return f"{v:.3g}" if 1e-3 <= a < 1e5 or v == 0 else f"{v:.2e}"


def _display(name: str, value: float) -> float:
    """A feature on its natural scale for the explanation (logs undone)."""
    if name in ("write_pressure", "weight_change"):
        return 10.0**value if math.isfinite(value) else math.nan
    if name == "loss_change":
        return math.exp(value) if math.isfinite(value) else math.nan
    return value


def score(records: Sequence[UpdateRecord], cfg: AnomalyConfig | None = None) -> list[Finding]:
    """Score every record within its family; the ``cfg.top`` highest first (rank 1 = most
    unusual). Deterministic for a given input and config."""
    cfg = cfg or AnomalyConfig()
    by_family: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_family.setdefault(r.family, []).append(i)
    out: list[Finding] = []
    for fam in sorted(by_family):
        idx = by_family[fam]
        mat = np.array(
            [[r.features.get(f, math.nan) for f in FEATURES] for r in (records[i] for i in idx)],
            dtype=np.float64,
        ).reshape(len(idx), len(FEATURES))
        zs = np.full(mat.shape, math.nan)
        stats: list[tuple[float, float]] = []
        for j in range(len(FEATURES)):
            zs[:, j], med, sc = robust_z(mat[:, j], MIN_SCALE[FEATURES[j]])
            stats.append((med, sc))
        scores = np.array([_combine(zs[k]) for k in range(len(idx))])
        if cfg.method == "iforest" and len(idx) >= 2:
            scores = _iforest(np.nan_to_num(zs, nan=0.0), cfg.seed)
        # a family too small for its scales to mean much ranks lower, in proportion
        scores = scores * min(1.0, len(idx) / cfg.min_family)
        for k, i in enumerate(idx):
            rec = records[i]
            why = []
            order = np.argsort(-np.nan_to_num(zs[k], nan=0.0))
            for j in order:
                zj = zs[k, j]
                if not math.isfinite(zj) or zj < cfg.explain_z:
                    continue
                name = FEATURES[j]
                shown = rec.raw.get(name, _display(name, mat[k, j]))
                why.append(
                    f"{LABELS[name]} {_fmt(shown)} is {zj:.1f} robust σ above this family's "
                    f"median {_fmt(_display(name, stats[j][0]))}"
                )
            if rec.status != "commit":
                why.append(f"status: {rec.status}")
            if len(idx) < cfg.min_family:
                why.append(f"small family ({len(idx)} attempts): scales are rough")
            out.append(
                Finding(
                    record=rec,
                    score=float(scores[k]),
                    rank=0,
                    z={FEATURES[j]: float(zs[k, j]) for j in range(len(FEATURES))},
                    why=why,
                    family_size=len(idx),
                )
            )
    out.sort(key=lambda f: (-f.score, f.record.key))
    out = _merge_neighbours(out, cfg.merge_window)
    for n, f in enumerate(out, start=1):
        f.rank = n
    return out[: cfg.top]


def _merge_neighbours(ranked: list[Finding], window: int) -> list[Finding]:
    """One finding per burst: walking from the highest score down, an attempt within
    ``window`` attempts of an already kept one of the same stream (kind, item, run) is merged
    into it (listed in ``merged``) instead of taking a place of its own — five chunks of one
    flood are one thing to review."""
    if window == 0:
        return ranked
    streams: dict[tuple[str, str, str | None], list[int]] = {}
    for f in ranked:
        r = f.record
        streams.setdefault((r.kind, r.item, r.run), []).append(r.position)
    order = {k: {p: i for i, p in enumerate(sorted(v))} for k, v in streams.items()}
    kept: list[Finding] = []
    owner: dict[tuple[tuple[str, str, str | None], int], Finding] = {}
    for f in ranked:
        r = f.record
        s = (r.kind, r.item, r.run)
        i = order[s][r.position]
        near = [owner[(s, j)] for j in range(i - window, i + window + 1) if (s, j) in owner]
        if near:  # merged into the kept finding nearby (not chained further: only kept
            near[0].merged.append(r.key)  # findings own positions)
            continue
        owner[(s, i)] = f
        kept.append(f)
    return kept


def _iforest(z: np.ndarray, seed: int) -> np.ndarray:
    """Isolation-forest anomaly score (higher = more unusual) of each row, fitted on the
    family itself; the model lives only for this call (nothing is saved)."""
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(n_estimators=200, random_state=seed)
    forest.fit(z)
    return np.asarray(-forest.score_samples(z), dtype=np.float64)


# -- evaluation ---------------------------------------------------------------------------------


def precision_recall_at(ranked_keys: Sequence[str], planted: set[str], k: int) -> dict[str, Any]:
    """Precision among the top ``k`` keys and recall of ``planted`` among them."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    top = list(ranked_keys[:k])
    hits = sum(1 for key in top if key in planted)
    return {
        "k": k,
        "hits": hits,
        "precision": hits / k,
        "recall": hits / len(planted) if planted else None,
    }
