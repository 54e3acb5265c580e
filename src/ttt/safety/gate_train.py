"""Train the gate's learned stages from the repository's data alone, reproducibly.

    python -m ttt.safety.gate_train                 # writes gate_scorer.json, gate_semantic.json
    python -m ttt.safety.gate_train --check         # rebuild into a temp folder, compare bytes
    python -m ttt.safety.gate_train --semantic lora --out DIR   # the fine-tuned stage

Two kinds of semantic stage (``--semantic``): ``frozen`` (shipped) fits a small MLP on frozen
int8 MiniLM embeddings; ``lora`` fine-tunes MiniLM's top two layers with peft LoRA adapters
and a linear head (:mod:`ttt.safety.gate_lora`). The n-gram scorer, the weights, the
multiple-instance step and every threshold rule are the same for both.

Steps (all deterministic: fixed seeds, fixed thread counts, MiniLM int8 one text at a time):

1. Rows: ``data/gate`` development + training rows (:func:`gatedata.load_training_rows`;
   sources reserved for evaluation are refused). Each row becomes *units*: its windows
   (:func:`ttt.safety.gate.windows`) and the windows of its decoded views, as the gate
   scores them.
2. Weights: each class carries half the mass; inside a class a row weighs
   1/sqrt(rows of its source), so a large generated source does not drown a small real one;
   an attack row's weight is shared by its units.
3. Multiple-instance step: an attack document has benign windows too. After a first fit,
   an attack row with several units keeps only the units the fit finds most attack-like
   (its best unit and any unit above 0.5); both stages are refitted on those.
4. Thresholds on out-of-fold scores (5 folds, rows stratified by source and label; each
   fold's models never saw its rows): ``injection_scorer.threshold`` where the n-gram alone
   blocks at most 0.3% of benign rows; ``semantic.band_low`` where 98% of the attack rows
   left for it enter the band, but no lower than where 20% of benign windows would (so most
   windows never pay for an embedding); a logistic stacker of (n-gram logit, embedding-head logit);
   ``semantic.threshold`` where the *whole gate* (rules included) blocks at most 1% of
   benign rows.
5. Final fits on every row; the out-of-fold figures go into the weights' ``meta``.

Frozen embeddings are cached under ``.cache/gate-emb`` by text hash (``--cache``; the cache
holds exactly what the embedder returns, so a warm and a cold run write the same bytes). The
``lora`` kind recomputes the int8 states below the adapters each run (about 3 minutes) and
fine-tunes once per fold and once on everything (20 minutes on 2 threads in all, measured).
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import json
import math
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ttt.safety import gatedata, textnorm
from ttt.safety.gate import Gate, decoded_views, windows
from ttt.safety.gate_config import GateConfig, InjectionScorerConfig, SemanticConfig
from ttt.safety.gate_lora import LoraHead, LoraSettings, LowerStates, fit_lora
from ttt.safety.gate_semantic import SemanticStage, fit_mlp, logit, mlp_logit
from ttt.safety.scorer import (
    NgramScorer,
    TrainConfig,
    choose_threshold,
    extract_features,
    fit_features,
    stratified_folds,
)
from ttt.safety.semantic import fit_logreg

__all__ = [
    "GateTrainConfig",
    "Units",
    "build_units",
    "fit_stages",
    "gate_scores",
    "head_of",
    "train",
    "unit_texts",
]

PKG = Path(__file__).resolve().parent
CACHE = gatedata.DATA_DIR.parents[1] / ".cache" / "gate-emb"


@dataclass(frozen=True)
class GateTrainConfig:
    """Settings of :func:`train` (fixed a priori; not searched on evaluation data)."""

    ngram: TrainConfig = field(default_factory=TrainConfig)
    head_hidden: int = 64
    head_l2: float = 1e-4
    folds: int = 5
    seed: int = 0
    target_fpr: float = 0.01  # whole-gate false-positive rate on out-of-fold benign rows
    scorer_fpr: float = 0.003  # the n-gram scorer's own (confident) block rate
    band_recall: float = 0.98  # share of the remaining attack rows that enter the band
    band_max_benign: float = 0.2  # ... unless more benign windows than this would enter
    window_chars: int = 600
    rescan_min_tokens: int = 4
    # "row": folds stratified by source and label (every fold has its share of every source);
    # "source": whole sources dealt to folds, so each out-of-fold score comes from a model that
    # never saw the row's source (the stacker and thresholds then see cross-source scores).
    fold_by: str = "row"
    # "frozen": the MLP head on frozen MiniLM embeddings (shipped); "lora": LoRA adapters on
    # MiniLM's top layers + a linear head (gate_lora; measured beside it, not better overall).
    semantic: str = "frozen"
    lora: LoraSettings = field(default_factory=LoraSettings)

    def __post_init__(self) -> None:
        if self.folds < 2 or not 0 < self.target_fpr < 1 or not 0 < self.band_recall <= 1:
            raise ValueError(f"invalid GateTrainConfig: {self}")
        if self.fold_by not in ("row", "source"):
            raise ValueError(f"fold_by must be 'row' or 'source', got {self.fold_by!r}")
        if self.semantic not in ("lora", "frozen"):
            raise ValueError(f"semantic must be 'lora' or 'frozen', got {self.semantic!r}")


# ----------------------------------------------------------------------------- units


@dataclass
class Units:
    """Rows cut into the units the learned stages score (windows of the text and views)."""

    texts: list[str]  # (U,)
    owner: np.ndarray  # (U,) row index of each unit
    feats: list[set[str]]  # (U,) n-gram features
    emb: np.ndarray | None  # (U, 384) int8-MiniLM embeddings (the frozen kind)
    lower: LowerStates | None = None  # int8 states below the adapted layers (the lora kind)


def row_units(text: str, cfg: GateTrainConfig, gate_cfg: GateConfig) -> list[str]:
    out = list(windows(text, cfg.window_chars))
    for _, view in decoded_views(text, gate_cfg):
        if len(textnorm.words(textnorm.fold(view))) >= cfg.rescan_min_tokens:
            out.extend(windows(view, cfg.window_chars))
    return list(dict.fromkeys(u for u in out if u.strip())) or [text]


def embed_cached(texts: Sequence[str], cache: Path | None) -> np.ndarray:
    """int8-MiniLM embeddings (one text at a time, one thread), cached by text hash."""
    import torch

    from ttt.safety.embedder import get_embedder

    keys = [hashlib.sha256(t.encode("utf-8", "surrogatepass")).hexdigest() for t in texts]
    store: dict[str, np.ndarray] = {}
    path = cache / "int8.npz" if cache is not None else None
    if path is not None and path.is_file():
        with np.load(path) as z:
            store = {k: z[k] for k in z.files}
    missing = [i for i, k in enumerate(keys) if k not in store]
    if missing:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            emb = get_embedder(quantized=True)
            for n, i in enumerate(missing):
                store[keys[i]] = emb.embed_one(texts[i])
                if n % 500 == 499:
                    print(f"embedded {n + 1}/{len(missing)}", file=sys.stderr)
        finally:
            torch.set_num_threads(threads)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, **store)  # type: ignore[arg-type]
            tmp.replace(path)
    return np.stack([store[k] for k in keys]).astype(np.float32)


def unit_texts(
    rows: Sequence[dict[str, Any]], cfg: GateTrainConfig
) -> tuple[list[str], np.ndarray]:
    """(unit texts (U,), owner (U,): the row index of each unit) of ``rows``."""
    gate_cfg = _bootstrap_config(cfg)
    texts: list[str] = []
    owner: list[int] = []
    for i, r in enumerate(rows):
        us = row_units(r["text"], cfg, gate_cfg)
        texts.extend(us)
        owner.extend([i] * len(us))
    return texts, np.asarray(owner)


def build_units(rows: Sequence[dict[str, Any]], cfg: GateTrainConfig, cache: Path | None) -> Units:
    texts, owner = unit_texts(rows, cfg)
    feats = [extract_features(t, cfg.ngram.spec) for t in texts]
    if cfg.semantic == "lora":
        return Units(texts, owner, feats, None, LowerStates.compute(texts, cfg.lora.split))
    return Units(texts, owner, feats, embed_cached(texts, cache))


def _bootstrap_config(cfg: GateTrainConfig, **kw: float) -> GateConfig:
    """A gate config whose learned-stage fields are given (no shipped weights needed)."""
    return GateConfig(
        injection_scorer=InjectionScorerConfig(
            threshold=kw.get("threshold", 0.5), window_chars=cfg.window_chars
        ),
        semantic=SemanticConfig(
            threshold=kw.get("sem_threshold", 0.5), band_low=kw.get("band_low", 0.5)
        ),
    )


# ----------------------------------------------------------------------------- fitting


def row_weights(rows: Sequence[dict[str, Any]]) -> np.ndarray:
    """(N,) 1/sqrt(rows of the same source and label)."""
    n = Counter((r["source"], r["label"]) for r in rows)
    return np.asarray([1.0 / math.sqrt(n[(r["source"], r["label"])]) for r in rows])


Head = tuple[np.ndarray, np.ndarray, np.ndarray, float] | LoraHead  # frozen (w1, b1, w2, b2)


@dataclass
class Fitted:
    ngram: NgramScorer
    head: Head

    def unit_logits(self, units: Units, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n-gram logits, head logits) of units ``idx``."""
        ng = np.clip(np.asarray([self.ngram.logit_feats(units.feats[i]) for i in idx]), -12, 12)
        if isinstance(self.head, LoraHead):
            if units.lower is None:
                raise ValueError("a LoRA head scores units built with semantic='lora'")
            return ng, self.head.unit_logits(units.lower, idx)
        if units.emb is None:
            raise ValueError("a frozen head scores units built with semantic='frozen'")
        return ng, mlp_logit(units.emb[idx], *self.head)


def head_of(stage: SemanticStage) -> Head:
    """The head a stage was built from (for scoring units as :class:`Fitted` does)."""
    return stage.lora if stage.lora is not None else (stage.w1, stage.b1, stage.w2, stage.b2)


def fit_stages(
    rows: Sequence[dict[str, Any]], units: Units, row_idx: np.ndarray, cfg: GateTrainConfig
) -> Fitted:
    """Fit the n-gram scorer and the embedding head on the units of rows ``row_idx``, with
    the multiple-instance step for attack documents (units chosen by a first n-gram fit;
    see the module docstring)."""
    rw = row_weights([rows[i] for i in row_idx])
    weight_of = dict(zip(row_idx.tolist(), rw, strict=True))
    label = np.asarray([int(r["label"] == "attack") for r in rows])
    uidx = np.flatnonzero(np.isin(units.owner, row_idx))
    counts = Counter(units.owner[uidx].tolist())

    def unit_weights(sel: np.ndarray) -> np.ndarray:
        own = units.owner[sel]
        n_kept = Counter(own.tolist())
        return np.asarray([weight_of[o] / (n_kept[o] if label[o] else 1.0) for o in own.tolist()])

    y = label[units.owner[uidx]]
    feats = [units.feats[i] for i in uidx]
    first = fit_features(feats, y.tolist(), cfg.ngram, weight=unit_weights(uidx))
    z = np.asarray([first.logit_feats(f) for f in feats])
    keep = np.ones(len(uidx), dtype=bool)
    best: dict[int, float] = {}
    owners = units.owner[uidx].tolist()
    for j, o in enumerate(owners):
        best[o] = max(best.get(o, -np.inf), z[j])
    for j, o in enumerate(owners):
        if label[o] and counts[o] > 1 and z[j] < best[o] and z[j] < 0:
            keep[j] = False
    sel = uidx[keep]
    ys, ws = label[units.owner[sel]], unit_weights(sel)
    ngram = fit_features([units.feats[i] for i in sel], ys.tolist(), cfg.ngram, weight=ws)
    head: Head
    if cfg.semantic == "lora":
        if units.lower is None:
            raise ValueError("semantic='lora' needs units built with semantic='lora'")
        head = fit_lora(units.lower, sel, ys, ws, cfg.lora, seed=cfg.seed)
    else:
        if units.emb is None:
            raise ValueError("semantic='frozen' needs units built with semantic='frozen'")
        head = fit_mlp(
            units.emb[sel], ys, ws, hidden=cfg.head_hidden, l2=cfg.head_l2, seed=cfg.seed
        )
    return Fitted(ngram, head)


# ----------------------------------------------------------------------------- scoring


@dataclass
class RowScores:
    """Per row: the rules' verdict and the learned stages' unit scores (as the gate sees
    them; the semantic stage's stacked score is computed for every unit here)."""

    rules_block: np.ndarray  # (N,) bool
    ng_max: np.ndarray  # (N,) max n-gram probability over units
    unit_ng: list[np.ndarray]  # per row: (u,) n-gram probabilities
    unit_sem: list[np.ndarray]  # per row: (u,) head logits


def rules_block(texts: Sequence[str]) -> np.ndarray:
    gate = Gate(_bootstrap_config(GateTrainConfig()), scorer=None)
    return np.asarray([not gate.check(t).allowed for t in texts])


def row_scores(fitted: Fitted, units: Units, row_idx: np.ndarray, rules: np.ndarray) -> RowScores:
    unit_ng, unit_sem = [], []
    for r in row_idx.tolist():
        u = np.flatnonzero(units.owner == r)
        ng, sem = fitted.unit_logits(units, u)
        unit_ng.append(1.0 / (1.0 + np.exp(-ng)))
        unit_sem.append(sem)
    ng_max = np.asarray([p.max() for p in unit_ng])
    return RowScores(rules[row_idx], ng_max, unit_ng, unit_sem)


def gate_scores(
    rs: RowScores,
    stage: SemanticStage,
    scorer_threshold: float,
    cascade: bool = True,
    max_windows: int = SemanticConfig.max_windows,
) -> np.ndarray:
    """(N,) the gate's learned score of each row in [0, 1], rules aside: 1 where the n-gram
    scorer blocks on its own, else the highest stacked probability over the units the
    cascade embeds, as the gate picks them: in the band, at most ``max_windows``, highest
    n-gram probability first (all units with ``cascade=False``)."""
    out = np.zeros(len(rs.ng_max))
    for i, (p, sem) in enumerate(zip(rs.unit_ng, rs.unit_sem, strict=True)):
        if rs.ng_max[i] > scorer_threshold:
            out[i] = 1.0
            continue
        if cascade:
            inband = np.flatnonzero(p >= stage.band_low)
            pick = inband[np.argsort(-p[inband], kind="stable")[:max_windows]]
        else:
            pick = np.arange(len(p))
        if len(pick):
            out[i] = float(stage.stack_prob(logit(p[pick]), sem[pick]).max())
    return out


def _auroc(scores: np.ndarray, y: np.ndarray) -> float:
    pos, neg = scores[y == 1], scores[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    allv = np.concatenate([pos, neg])
    ranks = np.argsort(np.argsort(allv, kind="mergesort"), kind="mergesort") + 1.0
    return round(
        float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))), 4
    )


def _quantile_low(values: np.ndarray, recall: float) -> float:
    """The largest v such that at least ``recall`` of ``values`` are >= v."""
    if len(values) == 0:
        return 0.5
    v = np.sort(values)
    k = max(0, min(len(v) - 1, math.floor((1.0 - recall) * len(v))))
    return float(v[k])


def choose_stage(
    rows: Sequence[dict[str, Any]],
    oof: RowScores,
    cfg: GateTrainConfig,
    head: Head,
) -> tuple[SemanticStage, float, dict[str, Any]]:
    """Stacker and thresholds from out-of-fold scores (see the module docstring)."""
    y = np.asarray([int(r["label"] == "attack") for r in rows])
    ben = y == 0
    # The n-gram scorer's own block: at most scorer_fpr of all benign rows.
    t_hi = choose_threshold(oof.ng_max, y, cfg.scorer_fpr)
    # Stacker on units: every benign unit, each attack row's best unit.
    xs, ys = [], []
    for i, (p, sem) in enumerate(zip(oof.unit_ng, oof.unit_sem, strict=True)):
        ng = logit(p)
        if y[i]:
            j = int(np.argmax(ng + sem))
            xs.append([ng[j], sem[j]])
            ys.append(1)
        else:
            xs.extend([[a, s] for a, s in zip(ng, sem, strict=True)])
            ys.extend([0] * len(ng))
    sw, sb = fit_logreg(np.asarray(xs), np.asarray(ys), l2=1e-4)
    left = (y == 1) & ~oof.rules_block & (oof.ng_max <= t_hi)
    benign_units = np.concatenate([p for i, p in enumerate(oof.unit_ng) if not y[i]])
    # The band: where band_recall of the remaining attacks are, but never so low that more
    # than band_max_benign of benign windows pay for an embedding (the latency budget).
    band_low = max(
        _quantile_low(oof.ng_max[left], cfg.band_recall),
        float(np.quantile(benign_units, 1.0 - cfg.band_max_benign)),
    )
    band_low = min(band_low, t_hi)
    stack = (float(sw[0]), float(sw[1]), sb)
    if isinstance(head, LoraHead):
        stage = SemanticStage.from_lora(head, stack, 0.5, band_low)
    else:
        stage = SemanticStage(*head, stack, 0.5, band_low)
    score = gate_scores(oof, stage, t_hi)
    blocked_before = oof.rules_block | (oof.ng_max > t_hi)
    budget = cfg.target_fpr * ben.sum() - (blocked_before & ben).sum()
    cand = np.sort(score[ben & ~blocked_before])[::-1]
    k = max(0, math.floor(budget))
    thr = float(cand[k]) if k < len(cand) else 0.0
    stage.threshold = min(1.0, thr)
    decision = blocked_before | (score > stage.threshold)
    by_source: dict[str, list[int]] = {}
    for r, d in zip(rows, decision.tolist(), strict=True):
        by_source.setdefault(f"{r['source']}|{r['label']}", []).append(int(d))
    stats = {
        "oof_tpr": float(decision[y == 1].mean()),
        "oof_fpr": float(decision[ben].mean()),
        "oof_rules_fpr": float(oof.rules_block[ben].mean()),
        "oof_benign_units_in_band": float(
            ((benign_units >= band_low) & (benign_units <= t_hi)).mean()
        ),
        "oof_flag_rate_by_source": {
            k: round(sum(v) / len(v), 4) for k, v in sorted(by_source.items())
        },
        "oof_auroc_stacked": _auroc(gate_scores(oof, stage, t_hi, cascade=False), y),
    }
    return stage, t_hi, stats


def source_folds(sources: Sequence[str], labels: Sequence[str], k: int) -> list[np.ndarray]:
    """k disjoint index arrays, each source wholly in one fold. Sources are dealt in one snake
    order (0..k-1, k-1..0, ...): those with attack rows first, then benign-only ones, each
    group largest first, so every fold gets attack sources and a similar share of rows.
    (Measured for LOSO with 3 folds: thresholds chosen on these cross-source scores are
    stricter, macro TPR 0.32 against 0.42 with row folds; not the default.)"""
    size = Counter(sources)
    has_attack = {s for s, lab in zip(sources, labels, strict=True) if lab == "attack"}
    order = sorted(size, key=lambda s: (s not in has_attack, -size[s], s))
    fold_of: dict[str, int] = {}
    for n, s in enumerate(order):
        lap, j = divmod(n, k)
        fold_of[s] = j if lap % 2 == 0 else k - 1 - j
    folds = [np.flatnonzero([fold_of[s] == f for s in sources]) for f in range(k)]
    return [f.astype(np.int64) for f in folds if len(f)]


def train(
    rows: Sequence[dict[str, Any]],
    units: Units,
    cfg: GateTrainConfig,
    *,
    rules: np.ndarray | None = None,
    row_idx: np.ndarray | None = None,
) -> tuple[NgramScorer, SemanticStage, dict[str, Any]]:
    """Fit both stages on rows ``row_idx`` (all by default) and choose every threshold on
    out-of-fold scores of those rows only."""
    idx = np.arange(len(rows)) if row_idx is None else np.asarray(row_idx)
    sub = [rows[int(i)] for i in idx]
    rules_all = rules if rules is not None else rules_block([r["text"] for r in rows])
    if cfg.fold_by == "source":
        folds = source_folds([r["source"] for r in sub], [r["label"] for r in sub], cfg.folds)
    else:
        strata = [f"{r['source']}|{r['label']}" for r in sub]
        folds = stratified_folds(strata, cfg.folds, cfg.seed)
    parts: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for k, test in enumerate(folds):
        t0 = time.perf_counter()
        tr = np.setdiff1d(np.arange(len(idx)), test)
        fitted = fit_stages(rows, units, idx[tr], cfg)
        for t in idx[test].tolist():
            u = np.flatnonzero(units.owner == t)
            parts[t] = fitted.unit_logits(units, u)
        if cfg.semantic == "lora":  # minutes per fold: say where training is
            print(f"fold {k + 1}/{len(folds)}: {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    unit_ng = [1.0 / (1.0 + np.exp(-parts[t][0])) for t in idx.tolist()]
    unit_sem = [parts[t][1] for t in idx.tolist()]
    oof = RowScores(rules_all[idx], np.asarray([p.max() for p in unit_ng]), unit_ng, unit_sem)
    final = fit_stages(rows, units, idx, cfg)
    stage, t_hi, stats = choose_stage(sub, oof, cfg, final.head)
    scorer = final.ngram
    scorer.threshold = round(t_hi, 6)
    stage.threshold = float(f"{stage.threshold:.6g}")
    stage.band_low = min(float(f"{stage.band_low:.6g}"), scorer.threshold)
    counts = Counter((r["source"], r["label"]) for r in sub)
    meta = {
        "trained_by": "python -m ttt.safety.gate_train",
        "rows": len(sub),
        "units": int(np.isin(units.owner, idx).sum()),
        "sources": {f"{s}|{lab}": n for (s, lab), n in sorted(counts.items())},
        "train_config": asdict(cfg),
        **stats,
    }
    scorer.meta = dict(meta)
    stage.meta = dict(meta)
    return scorer, stage, meta


# ----------------------------------------------------------------------------- CLI


def _write(
    out: Path, data_dir: Path, cache: Path | None, cfg: GateTrainConfig, *, auditor: bool
) -> dict[str, Any]:
    rows = gatedata.load_training_rows(data_dir)
    units = build_units(rows, cfg, cache)
    scorer, stage, meta = train(rows, units, cfg)
    data_hash = hashlib.sha256()
    for name in (gatedata.DEV_FILE, gatedata.TRAIN_FILE):
        data_hash.update((data_dir / name).read_bytes())
    scorer.meta["data_sha256"] = stage.meta["data_sha256"] = data_hash.hexdigest()
    out.mkdir(parents=True, exist_ok=True)
    scorer.save(out / "gate_scorer.json")
    stage.save(out / "gate_semantic.json")
    if auditor:
        _write_auditor_head(out)
    return meta


def _write_auditor_head(out: Path) -> None:
    """The auditor's semantic head (``semantic_head.json``), as ``python -m
    ttt.safety.semantic train`` trains it, on one thread so the bytes repeat."""
    import torch

    from ttt.safety import semantic

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        head = semantic.train_head(semantic.training_set(0), seed=0)
    finally:
        torch.set_num_threads(threads)
    head.meta["gate_dev"] = False
    head.save(out / semantic.DEFAULT_HEAD)


def main(argv: Sequence[str] | None = None, *, log: Callable[[str], None] = print) -> int:
    ap = argparse.ArgumentParser(prog="python -m ttt.safety.gate_train", description=__doc__)
    ap.add_argument("--data", type=Path, default=gatedata.DATA_DIR)
    ap.add_argument("--out", type=Path, default=PKG, help="folder for the two JSON files")
    ap.add_argument("--cache", type=Path, default=CACHE, help="embedding cache ('' for none)")
    ap.add_argument("--check", action="store_true", help="rebuild in a temp folder and compare")
    ap.add_argument(
        "--no-auditor", action="store_true", help="skip the auditor's semantic_head.json"
    )
    ap.add_argument(
        "--semantic",
        choices=("lora", "frozen"),
        default=GateTrainConfig.semantic,
        help="an MLP on frozen embeddings (the shipped kind) or fine-tuned MiniLM (LoRA)",
    )
    args = ap.parse_args(argv)
    cache = args.cache if str(args.cache) else None
    cfg = GateTrainConfig(semantic=args.semantic)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one BLAS thread: the same sums in the same order on every run
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            _write(Path(tmp), args.data, cache, cfg, auditor=not args.no_auditor)
            names = ["gate_scorer.json", "gate_semantic.json"]
            names += [] if args.no_auditor else ["semantic_head.json"]
            same = all(filecmp.cmp(Path(tmp) / n, PKG / n, shallow=False) for n in names)
        log(json.dumps({"identical": same}))
        return 0 if same else 1
    meta = _write(args.out, args.data, cache, cfg, auditor=not args.no_auditor)
    log(
        json.dumps(
            {k: meta[k] for k in meta if k.startswith("oof") or k in ("rows", "units")}, indent=1
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
