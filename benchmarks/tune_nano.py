"""Choose Nano's online-learning defaults on the *tuning* seeds (never the report seeds).

Runs every candidate plasticity config (a JSON list of override objects) on the tuning
sessions of each benchmark setting and prints one JSON line per candidate with the
figures of ``ttt bench nano`` (median / worst gain, commit rate, rollbacks by check,
adaptive / offline-best, sweep seconds). The offline-best fits do not depend on the
candidate, so they are computed once per setting and cached in ``--cache``.

    python benchmarks/tune_nano.py --base bench0 --artifacts-root /tmp/a \\
        --candidates '[{}, {"steps_per_update": 4}]' --threads 1 > tune.jsonl

The defaults in ``ttt.nano.config.PlasticityConfig`` were chosen this way; README.md
(Nano benchmark) lists the candidates tried and the commands.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ttt.nano.base import load_base
from ttt.nano.bench import SETTINGS, cached_offline_best, setting_sessions
from ttt.nano.config import PlasticityConfig, apply_overrides
from ttt.nano.sweep import run_batch
from ttt.store import ArtifactStore


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--artifacts-root", required=True)
    ap.add_argument("--candidates", required=True, help="JSON list of override objects")
    ap.add_argument("--sessions", type=int, default=32)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--seeds", default="tuning", choices=["tuning", "report"])
    ap.add_argument("--settings", default="", help="comma-separated setting names (all)")
    ap.add_argument("--cache", default="nano_offline_cache.json")
    ap.add_argument("--offline-tol", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-offline", action="store_true", help="skip adaptive/offline-best")
    args = ap.parse_args(argv)
    if args.seeds == "report":
        print(
            "warning: choosing defaults on the report seeds defeats their purpose", file=sys.stderr
        )
    torch.set_num_threads(args.threads)
    params, mcfg, _ = load_base(ArtifactStore(args.artifacts_root), args.base)
    names = {x for x in args.settings.split(",") if x}
    settings = [(i, s) for i, s in enumerate(SETTINGS) if not names or s.name in names]
    cache = Path(args.cache)
    candidates = json.loads(args.candidates)
    for ov in candidates:
        pcfg = PlasticityConfig.from_dict(apply_overrides(PlasticityConfig().to_dict(), ov))
        per: list[dict[str, Any]] = []
        for idx, s in settings:
            cfgs, seeds = setting_sessions(s, idx, args.sessions, args.seeds)
            fit = (
                None
                if args.no_offline
                else cached_offline_best(
                    cache,
                    f"{s.name}|{args.seeds}|{args.sessions}",
                    mcfg,
                    params,
                    cfgs,
                    seeds,
                    args.steps,
                    tol=args.offline_tol,
                )
            )
            best = None if fit is None else fit.last100
            t0 = time.perf_counter()
            res = run_batch(mcfg, params, cfgs, seeds, args.steps, pcfg)
            gain = res.gain()
            ratio = None if best is None else res.last100("adaptive") / best.clamp(min=1e-30)
            att, com = int(res.attempts.sum()), int(res.commits.sum())
            per.append(
                {
                    "setting": s.name,
                    "median_gain": statistics.median(gain.tolist()),
                    "adaptive_last100_median": statistics.median(res.last100("adaptive").tolist()),
                    "worst_gain": float(gain.min()),
                    "win_rate": float((gain > 0).double().mean()),
                    "commit_rate": com / att if att else None,
                    "rollbacks_by_check": {
                        k: int(v.sum()) for k, v in sorted(res.rollbacks_by_check.items())
                    },
                    "adaptive_over_offline_best": (
                        None if ratio is None else statistics.median(ratio.tolist())
                    ),
                    "seconds": round(time.perf_counter() - t0, 2),
                }
            )
        summary = {
            "overrides": ov,
            "max_ratio": max((r["adaptive_over_offline_best"] or 0.0) for r in per),
            "min_worst_gain": min(r["worst_gain"] for r in per),
            "min_commit_rate": min(r["commit_rate"] or 0.0 for r in per),
            "seconds": round(sum(r["seconds"] for r in per), 1),
            "settings": per,
        }
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
