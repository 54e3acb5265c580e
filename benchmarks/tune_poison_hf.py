"""Choose the poison benchmark's document-stream write setting for a model (tune split only).

    python benchmarks/tune_poison_hf.py --artifacts-root A --model smollm2 [--seed 100] \\
        [--benign-chars 8000] [--threads 2]

Each candidate setting (one write step per 128-token chunk) reads the benign tune stream of
``--seed`` (no attacks) with every defence off, from fresh fast weights. Rule, fixed before the
run: the largest held-out adaptation (loss drop on the held-out benign text) whose canary
damage over the whole stream is at most 0.05 nats. One JSON object per candidate, then the
choice. The result for SmolLM2 is ``ttt.text.sentry_config.STREAM_DEFAULTS["hf"]`` (the
default of ``ttt sentry run``, API Sentry runs, the red team's defence and the poison
benchmark on an imported HF model).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from ttt.models.registry import load_model
from ttt.store import ArtifactStore
from ttt.text.poison import PoisonStream, check_split_seeds, measure
from ttt.text.sentry import SentryConfig

CANDIDATES = (
    {"optimizer": "muon", "lr": 0.002},
    {"optimizer": "muon", "lr": 0.005},
    {"optimizer": "adamw", "lr": 1e-4},
    {"optimizer": "adamw", "lr": 3e-4},
)
MAX_CANARY_DAMAGE = 0.05


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--artifacts-root", default=os.environ.get("ARTIFACTS_ROOT", "artifacts"))
    ap.add_argument("--model", required=True)
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--benign-chars", type=int, default=8000)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    check_split_seeds("tune", range(args.seed, args.seed + 1))
    if args.threads:
        torch.set_num_threads(args.threads)
    store = ArtifactStore(args.artifacts_root)
    lm = load_model(store, args.model)
    stream = PoisonStream.build(args.seed, benign_chars=args.benign_chars, with_attacks=False)
    rows = []
    for cand in CANDIDATES:
        t0 = time.perf_counter()
        r = measure(lm, stream, SentryConfig(safety="off", **cand), store=store)
        row = {
            "candidate": cand,
            "seed": args.seed,
            "benign_adaptation": r["benign_adaptation"],
            "canary_damage": r["canary_damage"],
            "held_out_loss": r["held_out_loss"],
            "seconds": round(time.perf_counter() - t0, 1),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    ok = [r for r in rows if r["canary_damage"] <= MAX_CANARY_DAMAGE]
    best = max(ok, key=lambda r: r["benign_adaptation"]) if ok else None
    print(json.dumps({"chosen": best["candidate"] if best else None}), flush=True)


if __name__ == "__main__":
    main()
