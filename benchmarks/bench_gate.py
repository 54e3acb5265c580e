"""Gate benchmark: detection on the development set and on generated cases, and latency.

    python benchmarks/bench_gate.py [--data ../shared/data/gate_dev.jsonl] [--quick]

Prints one JSON object:

* ``dev_rules_only``: the rules alone (no learned scorer) on every row, per source and per
  category. The rules were written from general phrasing families, but while looking at
  this set, so treat these figures as development figures too.
* ``dev_gate_nested_cv``: rules + learned scorer, stratified k-fold (strata = label and
  category): each fold's scorer is fitted on the other folds and its threshold calibrated by
  an inner k-fold on those rows only; every row is judged by the full gate (decoded-text
  rescans included) with a scorer that never saw it.
* ``dev_gate_grouped_cv``: the same with near-duplicate rows (sharing a word 6-gram) kept
  in one fold, so templates repeated across rows cannot leak between train and test.
* ``dev_benign_leave_one_source_out``: for each benign source, the scorer is trained
  without that source's rows and its false-positive rate is measured on them.
  Leave-one-source-out is not meaningful for attacks: one source holds all of them.
* ``generated``: attackgen cases with a seed not used in development, per category, for
  the full gate (shipped scorer) and the rules alone; ``split`` cases are checked with a
  ``GateStream`` and, for contrast, as independent chunks.
* ``latency_ms``: p50/p95 per ~600-character chunk (about 128 tokens) for the rules alone,
  the learned scorer alone and the full gate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ttt.safety import attackgen
from ttt.safety.gate import Gate, GateConfig
from ttt.safety.scorer import (
    NgramScorer,
    TrainConfig,
    load_default_scorer,
    load_rows,
    nested_cv_models,
    strata,
    stratified_folds,
    train,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "gate_dev.jsonl"
GEN_SEED = 7_770_311  # never used in development (tests and development used seeds 0..99)


def _rate(k: int, n: int) -> float | None:
    return round(k / n, 4) if n else None


def _table(rows: Sequence[dict[str, Any]], flagged: Sequence[bool], key: str) -> dict[str, Any]:
    """Per ``key`` value: attacks, detected, TPR; benign rows, false positives, FPR."""
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row, flag in zip(rows, flagged, strict=True):
        for k in (row[key], "all"):
            a = acc[k]
            if row["label"] == "attack":
                a[0] += 1
                a[1] += flag
            else:
                a[2] += 1
                a[3] += flag
    return {
        k: {
            "attacks": a[0],
            "detected": a[1],
            "tpr": _rate(a[1], a[0]),
            "benign": a[2],
            "false_positives": a[3],
            "fpr": _rate(a[3], a[2]),
        }
        for k, a in sorted(acc.items())
    }


def _report(rows: Sequence[dict[str, Any]], flagged: Sequence[bool]) -> dict[str, Any]:
    return {
        "by_source": _table(rows, flagged, "source"),
        "by_category": _table(rows, flagged, "category"),
    }


def _cv_gate(
    rows: list[dict[str, Any]], cfg: TrainConfig, folds: list[np.ndarray]
) -> tuple[list[bool], list[float]]:
    texts = [r["text"] for r in rows]
    labels = [int(r["label"] == "attack") for r in rows]
    flagged = [False] * len(rows)
    thresholds = []
    for test, model in nested_cv_models(texts, labels, strata(rows), cfg, folds=folds):
        gate = Gate(
            GateConfig().with_overrides({"injection_scorer.threshold": model.threshold}),
            scorer=model,
        )
        thresholds.append(round(model.threshold, 4))
        for i in test:
            flagged[i] = not gate.check(texts[i]).allowed
    return flagged, thresholds


def _word_shingles(text: str, n: int = 6) -> set[str]:
    words = text.casefold().split()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def _grouped_folds(rows: list[dict[str, Any]], k: int) -> tuple[list[np.ndarray], int]:
    """Folds that keep rows sharing a word 6-gram together (union-find), dealt greedily so
    each fold gets a similar number of attack and benign rows."""
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, r in enumerate(rows):
        for sh in _word_shingles(r["text"]):
            if sh in first:
                parent[find(i)] = find(first[sh])
            else:
                first[sh] = i
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(rows)):
        groups[find(i)].append(i)
    folds: list[list[int]] = [[] for _ in range(k)]
    counts = np.zeros((k, 2))
    for members in sorted(groups.values(), key=lambda g: (-len(g), g[0])):
        n_att = sum(rows[i]["label"] == "attack" for i in members)
        col = 1 if n_att * 2 >= len(members) else 0
        f = int(np.argmin(counts[:, col] * 1000 + counts.sum(1)))
        folds[f].extend(members)
        counts[f, 0] += len(members) - n_att
        counts[f, 1] += n_att
    multi = sum(1 for g in groups.values() if len(g) > 1)
    return [np.array(sorted(f), dtype=np.int64) for f in folds], multi


def _leave_one_source_out(rows: list[dict[str, Any]], cfg: TrainConfig) -> dict[str, Any]:
    out = {}
    for source in sorted({r["source"] for r in rows if r["label"] == "benign"}):
        held = [i for i, r in enumerate(rows) if r["source"] == source and r["label"] == "benign"]
        held_set = set(held)
        tr = [r for i, r in enumerate(rows) if i not in held_set]
        texts = [r["text"] for r in tr]
        labels = [int(r["label"] == "attack") for r in tr]
        model = train(texts, labels, strata(tr), cfg)  # threshold: inner k-fold on tr only
        gate = Gate(
            GateConfig().with_overrides({"injection_scorer.threshold": model.threshold}),
            scorer=model,
        )
        fp = sum(not gate.check(rows[i]["text"]).allowed for i in held)
        out[source] = {"benign": len(held), "false_positives": fp, "fpr": _rate(fp, len(held))}
    return out


def _generated(gate: Gate, rules: Gate, seed: int, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for case in attackgen.generate(seed, n):
        cat = case["category"]
        entry = out.setdefault(
            cat,
            {"label": case["label"], "n": 0, "flagged_gate": 0, "flagged_rules_only": 0},
        )
        entry["n"] += 1
        for name, g in (("flagged_gate", gate), ("flagged_rules_only", rules)):
            if "chunks" in case:
                stream = g.stream()
                flags = [not stream.check(c).allowed for c in case["chunks"]]
                entry[name] += any(flags)
                if name == "flagged_gate":
                    indep = any(not g.check(c).allowed for c in case["chunks"])
                    entry["flagged_gate_without_stream"] = (
                        entry.get("flagged_gate_without_stream", 0) + indep
                    )
            else:
                entry[name] += not g.check(case["text"]).allowed
    for entry in out.values():
        metric = "tpr" if entry["label"] == "attack" else "fpr"
        entry[f"{metric}_gate"] = _rate(entry["flagged_gate"], entry["n"])
        entry[f"{metric}_rules_only"] = _rate(entry["flagged_rules_only"], entry["n"])
    return out


def _chunks(rows: list[dict[str, Any]], size: int = 600) -> list[str]:
    """~600-character chunks cut from the concatenated texts (at a space)."""
    blob = " ".join(r["text"] for r in rows)
    out, i = [], 0
    while i + size <= len(blob):
        j = blob.rfind(" ", i + size - 40, i + size)
        j = j if j > i else i + size
        out.append(blob[i:j])
        i = j + 1
    return out


def _latency(fn: Callable[[str], object], chunks: list[str], repeat: int) -> dict[str, float]:
    for c in chunks[:20]:
        fn(c)  # warm-up
    ts = []
    for _ in range(repeat):
        for c in chunks:
            t0 = time.perf_counter()
            fn(c)
            ts.append(1000 * (time.perf_counter() - t0))
    ts.sort()
    return {
        "p50": round(statistics.median(ts), 4),
        "p95": round(ts[int(0.95 * (len(ts) - 1))], 4),
        "chunks": len(chunks),
        "mean_chars": round(sum(map(len, chunks)) / len(chunks), 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="gate_dev.jsonl path")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0, help="fold seed")
    ap.add_argument("--gen-seed", type=int, default=GEN_SEED)
    ap.add_argument("--gen-n", type=int, default=100, help="generated cases per category")
    ap.add_argument("--quick", action="store_true", help="skip grouped CV and leave-one-out")
    args = ap.parse_args(argv)
    if not args.data.is_file():
        print(
            f"error: development set not found at {args.data.resolve()} "
            "(pass --data PATH to gate_dev.jsonl)",
            file=sys.stderr,
        )
        return 2

    rows = load_rows(args.data)
    texts = [r["text"] for r in rows]
    cfg = TrainConfig(seed=args.seed)
    shipped: NgramScorer = load_default_scorer()
    rules = Gate(scorer=None)
    gate = Gate()

    result: dict[str, Any] = {
        "data": {
            "path": str(args.data),
            "rows": len(rows),
            "attacks": sum(r["label"] == "attack" for r in rows),
        },
        "shipped_scorer": {
            "features": len(shipped.weights),
            "threshold": shipped.threshold,
            "gate_default_threshold": GateConfig().injection_scorer.threshold,
            "trained_on_sha256": shipped.meta.get("data_sha256"),
        },
        "dev_rules_only": _report(rows, [not rules.check(t).allowed for t in texts]),
    }
    t0 = time.perf_counter()
    folds = stratified_folds(strata(rows), args.folds, args.seed)
    flagged, thresholds = _cv_gate(rows, cfg, folds)
    result["dev_gate_nested_cv"] = {
        "folds": args.folds,
        "fold_thresholds": thresholds,
        **_report(rows, flagged),
    }
    if not args.quick:
        gfolds, n_groups = _grouped_folds(rows, args.folds)
        gflagged, gthr = _cv_gate(rows, cfg, gfolds)
        result["dev_gate_grouped_cv"] = {
            "folds": args.folds,
            "near_duplicate_groups": n_groups,
            "fold_thresholds": gthr,
            **_report(rows, gflagged),
        }
        result["dev_benign_leave_one_source_out"] = _leave_one_source_out(rows, cfg)
    result["cv_seconds"] = round(time.perf_counter() - t0, 1)
    result["generated"] = {
        "seed": args.gen_seed,
        "per_category": _generated(gate, rules, args.gen_seed, args.gen_n),
    }
    chunks = _chunks(rows)
    result["latency_ms"] = {
        "rules_only": _latency(rules.check, chunks, 3),
        "scorer_only": _latency(shipped.score, chunks, 3),
        "gate": _latency(gate.check, chunks, 3),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
