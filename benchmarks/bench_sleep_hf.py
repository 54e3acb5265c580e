"""Sleep and the adapter residual on an imported model: day-2 recall and forgetting.

    python benchmarks/bench_sleep_hf.py --artifacts-root A --model smollm2 [--facts 4]
                                        [--split report] [--seed 0] [--steps 60] [--json]

Day 1: a chat session on the model is told ``--facts`` made-up facts (``ttt.text.facts``) with
distractor turns between them, written as chat turns (the chat defaults, every defence on);
its recall is measured (questions in a fresh context). Then, from the same session, two
sleeps (``ttt.text.sleep_hf``, EWC, no replay baseline): one merges the consolidated adapter
into the core, one keeps it as the next sessions' starting fast weights (``--residual``).
Day 2, for the parent (no sleep: a fresh start), the merged candidate and the residual
candidate: a fresh session is asked the day-1 questions (what survived the night), then told
``--facts`` new facts and asked the new questions (day-2 acquisition) and the old ones again
(forgetting), and the perplexity of ordinary held-out text is measured (cost).
One JSON object per condition; the parent's row is the reference measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import torch

from ttt.models import registry
from ttt.models.generate import generate_ids
from ttt.models.protocol import chat_prompt
from ttt.store import ArtifactStore, new_id
from ttt.text import chat
from ttt.text.facts import sample_facts
from ttt.text.memory import Perplexity, score, turns_of
from ttt.text.sleep import SleepConfig, run_sleep


def ask(store: ArtifactStore, sid: str, facts: list[dict[str, Any]], n: int) -> list[str]:
    with chat.loaded(store, sid) as mon:
        return [
            generate_ids(mon.lm, chat_prompt(mon.lm, f["question"]), n, 0.0, None)[1] for f in facts
        ]


def tell(store: ArtifactStore, sid: str, turns: list[str]) -> float:
    recs = [chat.send_message(store, sid, t, max_tokens=0) for t in turns]
    ups = [u for r in recs for u in r["updates"]]
    return sum(u["committed"] for u in ups) / max(1, len(ups))


def recall(store: ArtifactStore, sid: str, facts: list[dict[str, Any]], n: int) -> float:
    return score(facts, ask(store, sid, facts, n), ask(store, sid, facts[:1], n), facts[:1])[
        "recall"
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifacts-root", default=os.environ.get("ARTIFACTS_ROOT", "artifacts"))
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--facts", type=int, default=4)
    ap.add_argument("--split", default="report", choices=("tune", "report"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--max-tokens", type=int, default=24)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    store = ArtifactStore(args.artifacts_root)
    n = args.max_tokens
    old = sample_facts(args.split, args.facts, args.seed)
    new = sample_facts(args.split, args.facts, args.seed + 1000)
    t0 = time.perf_counter()
    day1 = new_id("bench-sleep-day1")
    chat.create_session(store, args.model, session_id=day1)
    commit1 = tell(store, day1, turns_of(old, 1, args.seed))
    day1_recall = recall(store, day1, old, n)
    cands = {}
    for name, residual in (("sleep_merged", False), ("sleep_residual", True)):
        cfg = SleepConfig(
            sessions=[day1], steps=args.steps, batch_size=8, compare_replay=False,
            lr=1e-3, residual=residual, candidate_id=new_id(f"bench-{name}"),
        )  # fmt: skip
        res = run_sleep(store, args.model, cfg)
        cands[name] = (res.candidate_id, res.manifest["metrics"])
    rows = []
    for cond, mid, metrics in (
        ("parent_fresh", args.model, None),
        *((k, v[0], v[1]) for k, v in cands.items()),
    ):
        sid = new_id("bench-sleep-day2")
        chat.create_session(store, mid, session_id=sid)
        survived = recall(store, sid, old, n)
        commit2 = tell(store, sid, turns_of(new, 1, args.seed + 1))
        lm = registry.load_model(store, mid)
        rows.append(
            {
                "condition": cond,
                "model": mid,
                "facts": args.facts,
                "split": args.split,
                "day1_recall": day1_recall,
                "day1_commit_rate": commit1,
                "old_recall_day2_start": survived,
                "new_recall_day2": recall(store, sid, new, n),
                "old_recall_day2_end": recall(store, sid, old, n),
                "day2_commit_rate": commit2,
                "ppl_day2_start": Perplexity(lm, 4)(),
                "sleep_metrics": metrics,
            }
        )
        chat.delete_session(store, sid)
    chat.delete_session(store, day1)
    for r in rows:
        r["seconds_total"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(r, default=str) if args.json else json.dumps(r, indent=2, default=str))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
