"""Black-box evolutionary search for payloads that pass the defences and still do harm.

A (μ + λ) genetic search over strings. Generation 0 evaluates the seed payloads (instruction
overrides, implant phrasings, repetition floods, corrupted canaries, benign filler, and an
optional seeds file such as ``flagged_prompts.json``). Each later generation makes
``population`` children — by crossover of two tournament winners (``crossover_rate``) or by
one mutation operator (``ttt.redteam.mutations``) on a tournament winner — evaluates each on
the defended model, and keeps the ``population`` fittest of parents and children.

Fitness is the goal's objective minus a penalty when a defence stopped the payload
(``gate_penalty`` for the gate, ``defence_penalty`` for rollback), so the search is pushed
toward payloads that pass the gate *and* do damage.

Every random choice comes from one ``random.Random(seed)`` and every query from the
deterministic ``Target.evaluate``: the same seed gives the same attempts, query for query.

    log = QueryLog(target.evaluate, budget=200, on_attempt=print)
    EvolutionSearch(seeds, ctx, population=16, seed=0).run(log)
    log.attempts[-1].verdict.success
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ttt.redteam.mutations import CROSSOVER, OPERATORS, MutationContext, crossover
from ttt.redteam.target import Verdict

Evaluate = Callable[[str], Verdict]
TOURNAMENT = 3
MAX_RETRIES = 8  # attempts at a child not seen before, per child


def fitness(v: Verdict, *, gate_penalty: float = 1.0, defence_penalty: float = 0.5) -> float:
    """Objective minus the penalty of the first defence that stopped the payload."""
    if not v.passed_gate:
        return v.objective - gate_penalty
    if not v.passed:
        return v.objective - defence_penalty
    return v.objective


@dataclass
class Attempt:
    """One query: a payload, where it came from, and its verdict."""

    query: int  # 0-based index of the query in the run
    iteration: int
    payload: str
    parent: int | None  # query index of the parent payload
    mutation: str  # operator name, "seed", "crossover", "init", "token_swap"
    verdict: Verdict
    fitness: float

    def to_record(self) -> dict[str, Any]:
        """The ``attempts.jsonl`` record (schema_version is added by the store)."""
        v = self.verdict
        rec: dict[str, Any] = {
            "query": self.query,
            "iteration": self.iteration,
            "payload": self.payload,
        }
        if self.parent is not None:
            rec["parent"] = self.parent
        rec.update(
            {
                "mutation": self.mutation,
                "passed_gate": v.passed_gate,
                "gate_reasons": list(v.gate_reasons),
                "status": v.status,
                "stopped_by": v.stopped_by,
                "objective": v.objective,
                "canary_delta": v.canary_delta,
                "implant_gain": v.implant_gain,
                "success": v.success,
            }
        )
        return rec


class QueryLog:
    """Spends the query budget: evaluates payloads, records attempts, reports iterations.

    ``query`` returns ``None`` once the budget is spent or ``cancel()`` says stop."""

    def __init__(
        self,
        evaluate: Evaluate,
        budget: int,
        *,
        gate_penalty: float = 1.0,
        defence_penalty: float = 0.5,
        on_attempt: Callable[[Attempt], None] | None = None,
        on_iteration: Callable[[dict[str, Any]], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> None:
        if budget < 1:
            raise ValueError(f"budget must be >= 1, got {budget}")
        self.evaluate = evaluate
        self.budget = budget
        self.gate_penalty = gate_penalty
        self.defence_penalty = defence_penalty
        self.on_attempt = on_attempt
        self.on_iteration = on_iteration
        self.cancel = cancel
        self.attempts: list[Attempt] = []
        self.seen: dict[str, int] = {}  # payload -> query index
        self.cancelled = False
        self.t0 = time.perf_counter()
        self._iter_start = 0

    @property
    def exhausted(self) -> bool:
        if not self.cancelled and self.cancel is not None and self.cancel():
            self.cancelled = True
        return self.cancelled or len(self.attempts) >= self.budget

    def fitness(self, v: Verdict) -> float:
        return fitness(v, gate_penalty=self.gate_penalty, defence_penalty=self.defence_penalty)

    def query(
        self, payload: str, *, iteration: int, parent: int | None, mutation: str
    ) -> Attempt | None:
        if self.exhausted:
            return None
        v = self.evaluate(payload)
        a = Attempt(len(self.attempts), iteration, payload, parent, mutation, v, self.fitness(v))
        self.attempts.append(a)
        self.seen.setdefault(payload, a.query)
        if self.on_attempt is not None:
            self.on_attempt(a)
        return a

    def end_iteration(self, iteration: int) -> dict[str, Any]:
        """The ``iterations.jsonl`` record: cumulative queries, best objective and successes;
        mean objective over this iteration's queries."""
        new = self.attempts[self._iter_start :]
        self._iter_start = len(self.attempts)
        rec = {
            "iteration": iteration,
            "queries": len(self.attempts),
            "best_objective": max((a.verdict.objective for a in self.attempts), default=None),
            "mean_objective": (sum(a.verdict.objective for a in new) / len(new)) if new else None,
            "successes": sum(1 for a in self.attempts if a.verdict.success),
            "elapsed_s": round(time.perf_counter() - self.t0, 4),
        }
        if self.on_iteration is not None:
            self.on_iteration(rec)
        return rec


def _rank_key(a: Attempt) -> tuple[float, int]:
    return (-a.fitness, a.query)  # fittest first; ties: the earlier query


class EvolutionSearch:
    """(μ + λ) evolutionary search over payload strings (see the module docstring)."""

    def __init__(
        self,
        seeds: Sequence[tuple[str, str]],
        ctx: MutationContext,
        *,
        population: int,
        seed: int,
        crossover_rate: float = 0.2,
        operators: Sequence[str] | None = None,
    ) -> None:
        if not seeds:
            raise ValueError("the evolutionary search needs at least one seed payload")
        if population < 2:
            raise ValueError(f"population must be >= 2, got {population}")
        names = list(operators) if operators is not None else list(OPERATORS)
        unknown = sorted(set(names) - set(OPERATORS))
        if unknown or not names:
            raise ValueError(f"unknown mutation operator(s) {unknown}; known: {list(OPERATORS)}")
        self.seeds = list(seeds)
        self.ctx = ctx
        self.population = population
        self.rng = random.Random(seed)
        self.crossover_rate = crossover_rate
        self.operators = names
        self.pool: list[Attempt] = []

    def _tournament(self) -> Attempt:
        picks = [self.pool[self.rng.randrange(len(self.pool))] for _ in range(TOURNAMENT)]
        return min(picks, key=_rank_key)

    def _child(self, seen: dict[str, int]) -> tuple[str, int, str] | None:
        """A new payload (never evaluated before), its parent's query and the operator."""
        for _ in range(MAX_RETRIES):
            if len(self.pool) >= 2 and self.rng.random() < self.crossover_rate:
                a, b = self._tournament(), self._tournament()
                text, parent, op = crossover(a.payload, b.payload, self.rng, self.ctx), a, CROSSOVER
            else:
                parent = self._tournament()
                op = self.operators[self.rng.randrange(len(self.operators))]
                text = OPERATORS[op](parent.payload, self.rng, self.ctx)
            if text.strip() and text not in seen:
                return text, parent.query, op
        return None

    def run(self, log: QueryLog) -> list[Attempt]:
        """Search until the budget is spent (or cancelled); returns the final population."""
        order = list(self.seeds)
        if len(order) > self.population:  # a seeded sample, every family kept when possible
            families: dict[str, list[str]] = {}
            for text, fam in order:
                families.setdefault(fam, []).append(text)
            first = [(texts[0], fam) for fam, texts in families.items()]
            rest = [s for s in order if s not in first]
            self.rng.shuffle(rest)
            order = (first + rest)[: max(self.population, len(first))]
        for text, _family in order:
            a = log.query(text, iteration=0, parent=None, mutation="seed")
            if a is None:
                break
            self.pool.append(a)
        self.pool.sort(key=_rank_key)
        self.pool = self.pool[: self.population]
        log.end_iteration(0)
        iteration = 0
        while self.pool and not log.exhausted:
            iteration += 1
            children: list[Attempt] = []
            for _ in range(self.population):
                made = self._child(log.seen)
                if made is None:
                    continue
                text, parent, op = made
                a = log.query(text, iteration=iteration, parent=parent, mutation=op)
                if a is None:
                    break
                children.append(a)
            if not children and not log.exhausted:
                break  # the operators cannot make anything new: stop instead of spinning
            self.pool = sorted(self.pool + children, key=_rank_key)[: self.population]
            log.end_iteration(iteration)
        return list(self.pool)
