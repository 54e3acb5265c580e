"""Chat benchmark: fast weights as a learned context window, and turn latency. Prints JSON.

    python benchmarks/bench_chat.py [--seeds 3] [--quick] [--model ID --artifacts-root DIR]

Without ``--model`` a fresh ``demo`` model is trained into a temporary artifact root (about a
minute; ``--quick`` trains a ``tiny`` one and runs a small grid). With ``--model`` the
benchmark's sessions are created in that store and deleted afterwards.

**Facts.** Each seed makes up people and facts the model cannot know (names and answers built
from random syllables, e.g. "Vodax Quilren lives in the town of Marnhold."). A session is told
``--facts`` of them, one fact per turn, through the real ``send_message`` path; as many
*control* facts of the same templates are never told. Then, on the session's fast weights
(nothing written by the measurement):

* ``loss_drop``: mean drop of the answer's loss given the question prefix ("Vodax Quilren
  lives in the town of" -> " Marnhold") from the same model with updates off (fresh fast
  weights, which is what every session starts from) to after the turns;
  ``control_drop`` is the same for the untold facts (what the updates taught about the
  templates in general), ``specific_drop`` = ``loss_drop`` - ``control_drop``;
* ``recall``: fraction of told facts whose greedy continuation of the question prefix
  (12 tokens) contains the answer, with updates off and after the turns; ``chat_recall``: the
  same when the question prefix is sent as a real chat turn (its own write first, then a
  greedy reply), on a fork per question so that questions do not teach each other;
* ``binding``: fraction of told facts whose own answer has the lowest loss among all told
  answers after its question (chance = 1 / facts): did the session learn *which* answer
  belongs to whom, or only the answers;
* ``committed`` (fraction of fact writes committed) and ``canary_change`` (mean canary loss
  after the turns minus before: the damage the writes did to general text).

A grid of ``lr`` x ``steps_per_update`` runs under the default defences (``safety="all"``)
and with them off; ``best`` is the setting with the largest ``specific_drop`` under "all".

**Latency.** p50/p90 wall time of ``send_message`` for 128-token prompts (windows of the
model's validation text, decoded) and 64 generated tokens (temperature 0.8, top-k 40), default
safety, persistence to disk included; once with 1 torch thread and once with the default
thread count. The monitor's own breakdown (update, generate) is reported beside it, and the
process CPU time per turn (``p50_cpu_ms``, all threads), which other load on a shared machine
inflates far less than wall time (``load_average`` is recorded with the report).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ttt.models import registry
from ttt.models.corpus import TokenBuffer
from ttt.store import ArtifactStore, new_id
from ttt.text import chat

SYLLABLES = (
    "zor", "vath", "quil", "ren", "mar", "dax", "tel", "vo", "nyx", "ka", "rem", "shu", "fi",
    "lo", "gran", "dor", "pe", "wix", "bal", "tho", "zin", "gru", "ost", "vel", "mik", "bra",
)  # fmt: skip
# (statement, question prefix, answer): the answer continues the question prefix.
TEMPLATES = (
    ("{n} lives in the town of {a}.", "{n} lives in the town of", " {a}"),
    ("The pet of {n} is a {a}.", "The pet of {n} is a", " {a}"),
    ("{n} was born in {a}.", "{n} was born in", " {a}"),
    ("The favourite food of {n} is {a}.", "The favourite food of {n} is", " {a}"),
)


def _word(rng: random.Random, k: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(k)).capitalize()


def make_facts(seed: int, n: int) -> list[dict[str, str]]:
    """2n facts with distinct made-up names and answers (the first n are told)."""
    rng = random.Random(seed)
    names: set[str] = set()
    answers: set[str] = set()
    facts = []
    while len(facts) < 2 * n:
        name = f"{_word(rng, 2)} {_word(rng, 2)}"
        ans = _word(rng, rng.choice((2, 3)))
        if name in names or ans in answers:
            continue
        names.add(name)
        answers.add(ans)
        st, q, a = TEMPLATES[len(facts) % len(TEMPLATES)]
        facts.append(
            {"statement": st.format(n=name, a=ans), "question": q.format(n=name), "answer": ans}
        )
        facts[-1]["continuation"] = a.format(a=ans)
    return facts


def _measure(store: ArtifactStore, sid: str, facts: list[dict[str, str]], told: int) -> dict:
    losses = [chat.continuation_loss(store, sid, f["question"], f["continuation"]) for f in facts]
    recall = [
        f["answer"] in chat.complete_text(store, sid, f["question"], max_tokens=12)
        for f in facts[:told]
    ]
    binding = []
    for i, f in enumerate(facts[:told]):
        own = losses[i]
        others = [
            chat.continuation_loss(store, sid, f["question"], g["continuation"])
            for j, g in enumerate(facts[:told])
            if j != i
        ]
        binding.append(all(own < o for o in others))
    return {"losses": losses, "recall": recall, "binding": binding}


def _chat_recall(store: ArtifactStore, sid: str, facts: list[dict[str, str]]) -> list[bool]:
    out = []
    for f in facts:
        fork = chat.fork_session(store, sid, new_id("bench-chat-q"))["session_id"]
        try:
            rec = chat.send_message(store, fork, f["question"], temperature=0.0, max_tokens=12)
            out.append(f["answer"] in rec["completion"])
        finally:
            chat.delete_session(store, fork)
    return out


def _canary(store: ArtifactStore, sid: str) -> float | None:
    """Mean canary loss after the session's last write minus before its first."""
    events = chat.read_events(store, sid)
    before = next(
        (e["canary"]["before"] for e in events if e["canary"]["before"] is not None), None
    )
    after = next(
        (e["canary"]["after"] for e in reversed(events) if e["committed"]),
        None,
    )
    if before is None:
        return None
    return (after if after is not None else before) - before


def _mean(xs: list[float]) -> float:
    return float(statistics.fmean(xs)) if xs else float("nan")


def bench_facts(
    store: ArtifactStore,
    model_id: str,
    *,
    seeds: int,
    first_seed: int,
    n_facts: int,
    grid: list[tuple[float, int]],
    safeties: tuple[str, ...],
    log: Any,
) -> dict[str, Any]:
    rows: dict[tuple[str, float, int], list[dict[str, Any]]] = {}
    baselines = []
    for seed in range(first_seed, first_seed + seeds):
        facts = make_facts(seed, n_facts)
        base_sid = chat.create_session(store, model_id, session_id=new_id("bench-chat"))[
            "session_id"
        ]
        try:
            base = _measure(store, base_sid, facts, n_facts)
            base_chat = _chat_recall(store, base_sid, facts[:n_facts])
        finally:
            chat.delete_session(store, base_sid)
        baselines.append({**base, "chat_recall": base_chat})
        for safety in safeties:
            for lr, steps in grid:
                cfg = chat.chat_config(
                    {"safety": safety, "lr": lr, "steps_per_update": steps, "seed": seed}
                )
                sid = chat.create_session(store, model_id, cfg, session_id=new_id("bench-chat"))[
                    "session_id"
                ]
                try:
                    committed = 0
                    writes = 0
                    for f in facts[:n_facts]:
                        rec = chat.send_message(store, sid, f["statement"], max_tokens=0)
                        committed += rec["committed_chunks"]
                        writes += len(rec["updates"])
                    after = _measure(store, sid, facts, n_facts)
                    chat_rec = _chat_recall(store, sid, facts[:n_facts])
                    canary = _canary(store, sid)
                finally:
                    chat.delete_session(store, sid)
                told_drop = [
                    b - a
                    for b, a in zip(
                        base["losses"][:n_facts], after["losses"][:n_facts], strict=True
                    )
                ]
                ctrl_drop = [
                    b - a
                    for b, a in zip(
                        base["losses"][n_facts:], after["losses"][n_facts:], strict=True
                    )
                ]
                rows.setdefault((safety, lr, steps), []).append(
                    {
                        "loss_drop": _mean(told_drop),
                        "control_drop": _mean(ctrl_drop),
                        "recall": _mean([float(r) for r in after["recall"]]),
                        "chat_recall": _mean([float(r) for r in chat_rec]),
                        "binding": _mean([float(b) for b in after["binding"]]),
                        "committed": committed / max(1, writes),
                        "canary_change": canary,
                        "loss_told_after": _mean(after["losses"][:n_facts]),
                    }
                )
                if log:
                    r = rows[(safety, lr, steps)][-1]
                    log(
                        f"seed {seed} safety={safety} lr={lr} steps={steps}: "
                        f"drop {r['loss_drop']:.3f} (control {r['control_drop']:.3f}), "
                        f"recall {r['recall']:.2f}, committed {r['committed']:.2f}"
                    )
    settings = []
    for (safety, lr, steps), per_seed in rows.items():
        agg = {k: _mean([float(r[k]) for r in per_seed if r[k] is not None]) for k in per_seed[0]}
        agg["specific_drop"] = agg["loss_drop"] - agg["control_drop"]
        drops = [r["loss_drop"] for r in per_seed]
        settings.append(
            {
                "safety": safety,
                "lr": lr,
                "steps_per_update": steps,
                **{k: round(v, 4) for k, v in agg.items()},
                "loss_drop_per_seed": [round(x, 4) for x in drops],
            }
        )
    baseline = {
        "loss_told": round(_mean([_mean(b["losses"][:n_facts]) for b in baselines]), 4),
        "loss_control": round(_mean([_mean(b["losses"][n_facts:]) for b in baselines]), 4),
        "recall": _mean([_mean([float(r) for r in b["recall"]]) for b in baselines]),
        "chat_recall": _mean([_mean([float(r) for r in b["chat_recall"]]) for b in baselines]),
        "binding": _mean([_mean([float(r) for r in b["binding"]]) for b in baselines]),
    }
    on = [s for s in settings if s["safety"] == "all"] or settings
    best = max(on, key=lambda s: s["specific_drop"])
    dflt = chat.chat_config()
    default = next(
        (s for s in on if s["lr"] == dflt.lr and s["steps_per_update"] == dflt.steps_per_update),
        None,
    )
    return {
        "seeds": seeds,
        "first_seed": first_seed,
        "facts_told": n_facts,
        "control_facts": n_facts,
        "example": make_facts(first_seed, n_facts)[0],
        "updates_off": baseline,
        "settings": settings,
        "default_setting": default,
        "best": best,
    }


def _prompts(store: ArtifactStore, model_id: str, n: int, tokens: int) -> list[str]:
    """``n`` prompts of about ``tokens`` tokens: windows of the model's validation text."""
    lm = registry.load_model(store, model_id)
    buf = TokenBuffer.open(registry.model_dir(store, model_id), "val")
    if len(buf) < tokens + 1:
        raise SystemExit(f"model {model_id!r} has too little validation text for prompts")
    g = torch.Generator().manual_seed(1234)
    starts = buf.sample_starts(n, tokens, g)
    x, _ = buf.windows(starts, tokens)
    return [lm.tokenizer.decode(row.tolist()) for row in x]


def bench_latency(
    store: ArtifactStore, model_id: str, *, threads: int, turns: int, warmup: int = 3
) -> dict[str, Any]:
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        sid = chat.create_session(store, model_id, session_id=new_id("bench-chat-lat"))[
            "session_id"
        ]
        prompts = _prompts(store, model_id, turns + warmup, 128)
        wall, cpu, update, generate, ptoks, gtoks = [], [], [], [], [], []
        statuses: dict[str, int] = {}
        try:
            for i, p in enumerate(prompts):
                t0, c0 = time.perf_counter(), time.process_time()
                rec = chat.send_message(store, sid, p, max_tokens=64)
                ms = (time.perf_counter() - t0) * 1000
                cpu_ms = (time.process_time() - c0) * 1000
                if i < warmup:
                    continue
                wall.append(ms)
                cpu.append(cpu_ms)
                update.append(rec["latency_ms"]["update"])
                generate.append(rec["latency_ms"]["generate"])
                ptoks.append(rec["prompt_tokens"])
                gtoks.append(rec["completion_tokens"])
                for u in rec["updates"]:
                    statuses[u["status"]] = statuses.get(u["status"], 0) + 1
        finally:
            chat.delete_session(store, sid)
    finally:
        torch.set_num_threads(saved)

    def q(xs: list[float], p: float) -> float:
        return round(float(torch.tensor(xs).quantile(p)), 2)

    return {
        "threads": threads,
        "turns": len(wall),
        "prompt_tokens_mean": round(_mean([float(x) for x in ptoks]), 1),
        "generated_tokens_mean": round(_mean([float(x) for x in gtoks]), 1),
        "safety": chat.chat_config().safety,
        "lr": chat.chat_config().lr,
        "steps_per_update": chat.chat_config().steps_per_update,
        "p50_ms": q(wall, 0.5),
        "p90_ms": q(wall, 0.9),
        "p50_cpu_ms": q(cpu, 0.5),
        "p50_update_ms": q(update, 0.5),
        "p50_generate_ms": q(generate, 0.5),
        "p50_other_ms": q([w - u - g for w, u, g in zip(wall, update, generate, strict=True)], 0.5),
        "update_statuses": statuses,
        "target_p50_ms": 150,
    }


def run(args: argparse.Namespace, store: ArtifactStore, model_id: str, log: Any) -> dict:
    torch.set_num_threads(args.threads)
    meta = registry.read_meta(store, model_id)
    grid = (
        [(0.02, 1), (0.1, 4)]
        if args.quick
        else [(lr, s) for lr in (0.02, 0.05, 0.1, 0.2) for s in (1, 2, 4, 8)]
    )
    if args.grid:
        grid = [(float(a), int(b)) for a, b in (g.split(":") for g in args.grid.split(","))]
    t0 = time.perf_counter()
    facts = None
    if args.only in (None, "facts"):
        facts = bench_facts(
            store,
            model_id,
            seeds=args.seeds,
            first_seed=args.first_seed,
            n_facts=args.facts,
            grid=grid,
            safeties=("all", "off"),
            log=log,
        )
    latency = [
        bench_latency(store, model_id, threads=t, turns=args.turns)
        for t in sorted({1, args.default_threads})
        if args.only in (None, "latency")
    ]
    return {
        "benchmark": "chat",
        "model": {
            "model_id": model_id,
            "model_cfg": meta["model_cfg"],
            "params": meta.get("n_params"),
        },
        "facts": facts,
        "latency": latency,
        "load_average": list(os.getloadavg()),
        "torch": torch.__version__,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="stored text model (default: train demo)")
    ap.add_argument("--artifacts-root", default=None, help="artifact root of --model")
    ap.add_argument("--seeds", type=int, default=3, help="fact sets (sessions per setting)")
    ap.add_argument("--first-seed", type=int, default=0, help="first fact-set seed")
    ap.add_argument("--grid", default=None, help="lr:steps,... settings (default: a 4x4 grid)")
    ap.add_argument("--facts", type=int, default=4, help="facts told per session")
    ap.add_argument("--turns", type=int, default=30, help="measured turns per latency run")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the facts part")
    ap.add_argument("--quick", action="store_true", help="tiny model, one seed, small grid")
    ap.add_argument("--only", choices=("facts", "latency"), default=None, help="one part only")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    args.default_threads = torch.get_num_threads()
    if args.quick:
        args.seeds, args.turns = 1, 5
    log = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    if args.model is not None:
        store = ArtifactStore(args.artifacts_root)
        report = run(args, store, registry.resolve_model_id(store, args.model), log)
    else:
        from ttt.models.train import train_model

        with tempfile.TemporaryDirectory(prefix="ttt-bench-chat-") as tmp:
            store = ArtifactStore(Path(tmp))
            if log:
                log("training a fresh model for the benchmark ...")
            res = train_model(store, preset="tiny" if args.quick else "demo", model_id="bench-lm")
            report = run(args, store, res.model_id, log)
            report["model"]["trained_for_benchmark"] = True
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
