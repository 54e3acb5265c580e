"""The memory benchmark: do fast weights behave like a learned context window?

    ttt bench memory --json                       # the default models, report facts
    ttt bench memory --model smollm2 --n-facts 1,4 --split tune --set lr=0.01

N made-up facts (``ttt.text.facts``) are told over N user turns with distractor turns between
them, each written into the fast weights exactly as a chat turn is (``ttt.text.write``, the
chat defaults, every defence on unless overridden). Then each fact's question is asked in a
**fresh context** that does not contain the fact, and so is a question about a never-told
fact of the same kind (the control). Three conditions, measured in the same run:

* ``fast_weights``: the session's fast weights after the writes;
* ``no_update``: the same model with updates off (the fresh fast weights = the base model);
* ``in_context``: the base model with every told turn in its context window: the turns, one
  per line, then the question, in one user message (the in-context reference; a history of
  user turns each acknowledged by the assistant made SmolLM2 answer every question with the
  acknowledgement, and one acknowledged earlier turn recalled 2 of 4 tune facts where this
  recalls 3).

Per row: ``recall`` (the reply contains the answer), ``binding`` (the reply contains its own
answer and no other told fact's), ``wrong_fact`` (another told fact's answer appears),
``control_leak`` (a told answer appears in a reply to a control question), ``control_guess``
(the never-told answer itself appears: luck), perplexity of ordinary held-out text before and
after (``ppl_before``, ``ppl_after``), ``commit_rate`` of the writes and ``seconds``.
Replies are greedy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from ttt.configs import check_int
from ttt.models.generate import generate_ids, greedy_replies
from ttt.models.pretrained import reference_texts
from ttt.models.protocol import FastWeightLm, conversation_prompt, weighted_mean
from ttt.models.reference import text_examples
from ttt.text.facts import distractors, sample_facts
from ttt.text.monitor import SentryConfig, SentryMonitor
from ttt.text.write import WriteConfig, write_message

CONDITIONS = ("fast_weights", "no_update", "in_context")


@dataclass
class MemoryBenchConfig:
    n_facts: tuple[int, ...] = (1, 4, 16)
    seeds: tuple[int, ...] = (0, 1)
    split: str = "report"
    distractors_between: int = 1
    max_tokens: int = 24
    ppl_windows: int = 8

    def __post_init__(self) -> None:
        for name, lo, hi in (("n_facts", 1, 64), ("seeds", 0, 2**32 - 1)):
            v = getattr(self, name)
            if isinstance(v, list):
                v = tuple(v)
                setattr(self, name, v)
            if not isinstance(v, tuple) or not 1 <= len(v) <= 64:
                raise ValueError(
                    f"MemoryBenchConfig.{name} must be a list of 1 to 64 ints in [{lo}, {hi}], "
                    f"got {v!r}"
                )
            for i, x in enumerate(v):
                check_int(f"MemoryBenchConfig.{name}[{i}]", x, lo=lo, hi=hi)
        if self.split not in ("tune", "report"):
            raise ValueError(f"MemoryBenchConfig.split must be tune or report, got {self.split!r}")
        check_int("MemoryBenchConfig.distractors_between", self.distractors_between, lo=0, hi=8)
        check_int("MemoryBenchConfig.max_tokens", self.max_tokens, lo=1, hi=256)
        check_int("MemoryBenchConfig.ppl_windows", self.ppl_windows, lo=1, hi=256)


def contains_answer(reply: str, answer: str) -> bool:
    """Recall's rule: the answer appears in the reply (case-insensitive, answer stripped)."""
    return answer.strip().lower() in reply.lower()


def score(
    facts: Sequence[dict[str, Any]],
    replies: Sequence[str],
    control_replies: Sequence[str],
    controls: Sequence[dict[str, Any]],
) -> dict[str, float]:
    """Recall, binding, wrong-fact and control rates of one condition."""
    answers = [f["answer"] for f in facts]
    own = [contains_answer(r, f["answer"]) for r, f in zip(replies, facts, strict=True)]
    other = [
        any(contains_answer(r, a) for j, a in enumerate(answers) if j != i)
        for i, r in enumerate(replies)
    ]
    n = len(facts)
    return {
        "recall": sum(own) / n,
        "binding": sum(o and not w for o, w in zip(own, other, strict=True)) / n,
        "wrong_fact": sum(other) / n,
        "control_leak": sum(any(contains_answer(r, a) for a in answers) for r in control_replies)
        / len(control_replies),
        "control_guess": sum(
            contains_answer(r, c["answer"]) for r, c in zip(control_replies, controls, strict=True)
        )
        / len(control_replies),
    }


class Perplexity:
    """Perplexity of fixed windows of ordinary built-in text under the current fast weights."""

    def __init__(self, lm: FastWeightLm, n_windows: int) -> None:
        self.lm = lm
        ex = text_examples(lm, reference_texts()[1::2], chunk_tokens=128, n_windows=n_windows)
        self.preps = [lm.prepare(e) for e in ex]

    @torch.no_grad()
    def __call__(self) -> float:
        losses = [float(weighted_mean(self.lm.token_losses(p), p.weights)) for p in self.preps]
        return math.exp(sum(losses) / len(losses))


def _ask(lm: FastWeightLm, questions: Sequence[str], max_tokens: int) -> list[str]:
    return greedy_replies(lm, questions, max_tokens)


def turns_of(facts: Sequence[dict[str, Any]], n_between: int, seed: int) -> list[str]:
    """The told turns: each fact, then ``n_between`` distractors."""
    fill = distractors(len(facts) * n_between, seed)
    out: list[str] = []
    for i, f in enumerate(facts):
        out.append(f["fact"])
        out.extend(fill[i * n_between : (i + 1) * n_between])
    return out


def run_one(
    lm: FastWeightLm,
    facts: list[dict[str, Any]],
    controls: list[dict[str, Any]],
    turns: list[str],
    sentry: SentryConfig,
    write: WriteConfig,
    bcfg: MemoryBenchConfig,
    ppl: Perplexity,
    conditions: Sequence[str] = CONDITIONS,
) -> dict[str, dict[str, Any]]:
    """All conditions for one set of facts; {condition: metrics}."""
    out: dict[str, dict[str, Any]] = {}
    questions = [f["question"] for f in facts]
    cq = [c["question"] for c in controls]
    mon = SentryMonitor(lm, sentry, reference="chat_reference")  # fresh fast weights
    initial = lm.initial_plastic()
    ppl_before = ppl()
    if "no_update" in conditions:
        t0 = time.perf_counter()
        m = score(
            facts, _ask(lm, questions, bcfg.max_tokens), _ask(lm, cq, bcfg.max_tokens), controls
        )
        out["no_update"] = {**m, "ppl_before": ppl_before, "ppl_after": ppl_before,
                            "commit_rate": None, "seconds": time.perf_counter() - t0}  # fmt: skip
    if "in_context" in conditions:
        t0 = time.perf_counter()
        told = "\n".join(turns)

        def ask_in_context(qs: Sequence[str]) -> list[str]:
            return [
                generate_ids(
                    lm, conversation_prompt(lm, [("user", f"{told}\n\n{q}")]), bcfg.max_tokens,
                    0.0, None,
                )[1]
                for q in qs
            ]  # fmt: skip

        rq, rc = ask_in_context(questions), ask_in_context(cq)
        out["in_context"] = {**score(facts, rq, rc, controls), "ppl_before": ppl_before,
                             "ppl_after": ppl_before, "commit_rate": None,
                             "seconds": time.perf_counter() - t0}  # fmt: skip
    if "fast_weights" in conditions:
        t0 = time.perf_counter()
        events = [e for t in turns for e in write_message(mon, t, write, keep_text=False)]
        t_write = time.perf_counter() - t0
        m = score(
            facts, _ask(lm, questions, bcfg.max_tokens), _ask(lm, cq, bcfg.max_tokens), controls
        )
        out["fast_weights"] = {
            **m,
            "ppl_before": ppl_before,
            "ppl_after": ppl(),
            "commit_rate": sum(e["committed"] for e in events) / max(1, len(events)),
            "write_seconds": t_write,
            "seconds": time.perf_counter() - t0,
        }
        mon.load_fast_weights(initial)
    return out


def bench_memory(
    lm: FastWeightLm,
    sentry: SentryConfig,
    write: WriteConfig,
    bcfg: MemoryBenchConfig,
    *,
    facts_file: list[dict[str, Any]] | None = None,
    conditions: Sequence[str] = CONDITIONS,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """One row per (n_facts, condition), means over seeds (see the module docstring)."""
    bad = [c for c in conditions if c not in CONDITIONS]
    if bad:
        raise ValueError(f"unknown conditions {bad}; known: {CONDITIONS}")
    ppl = Perplexity(lm, bcfg.ppl_windows)
    rows: list[dict[str, Any]] = []
    for n in bcfg.n_facts:
        per_seed: list[dict[str, dict[str, Any]]] = []
        for seed in bcfg.seeds:
            if facts_file is not None:
                import random

                rng = random.Random(seed)
                pool = list(facts_file)
                rng.shuffle(pool)
                if len(pool) < 2 * n:
                    raise ValueError(
                        f"--facts has {len(pool)} facts; {n} told plus {n} controls need {2 * n}"
                    )
                facts, controls = pool[:n], pool[n : 2 * n]
            else:
                facts = sample_facts(bcfg.split, n, seed)
                controls = sample_facts(bcfg.split, n, seed, control=True)
            turns = turns_of(facts, bcfg.distractors_between, seed)
            res = run_one(lm, facts, controls, turns, sentry, write, bcfg, ppl, conditions)
            per_seed.append(res)
            if log:
                log(f"n={n} seed={seed}: " + ", ".join(
                    f"{c} recall {r['recall']:.2f} binding {r['binding']:.2f} "
                    f"leak {r['control_leak']:.2f}" for c, r in res.items()))  # fmt: skip
        for cond in conditions:
            vals = [r[cond] for r in per_seed]
            row: dict[str, Any] = {
                "backend": lm.backend,
                "model": lm.model_id,
                "n_facts": n,
                "condition": cond,
                "split": "file" if facts_file is not None else bcfg.split,
                "seeds": list(bcfg.seeds),
            }
            for key in vals[0]:
                xs = [v[key] for v in vals if v.get(key) is not None]
                row[key] = sum(xs) / len(xs) if xs else None
            row["write"] = {**asdict(write), "lr": sentry.lr,
                            "steps_per_update": sentry.steps_per_update,
                            "optimizer": sentry.optimizer, "safety": sentry.safety}  # fmt: skip
            rows.append(row)
    return rows
