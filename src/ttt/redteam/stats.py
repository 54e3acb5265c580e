"""Statistics of a red-team run: attack success rate with a Wilson 95% interval, queries to
first success, best payloads and the defences that stopped the failures.

    lo, hi = wilson_interval(successes=3, n=40)      # 95% by default
    stats = attack_stats(attempts)                   # attempts: dicts of attempts.jsonl

The success rate is counted over **every evaluated query** (each payload run through the
defended model once). The Wilson score interval is used instead of the normal approximation
because red-team success rates are often 0 or close to it, where the normal interval
collapses to a point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Z95 = 1.959963984540054  # two-sided 95% quantile of the standard normal
NOT_STOPPED = "none"  # a failure that passed every defence but stayed below the threshold


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``successes / n``.

    ``n == 0`` gives the uninformative ``(0.0, 1.0)``."""
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"wilson_interval needs 0 <= successes <= n, got {successes}, {n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # The exact bounds at 0 and n are 0 and 1; float rounding leaves ~1e-18 there.
    lo = 0.0 if successes == 0 else max(0.0, center - half)
    hi = 1.0 if successes == n else min(1.0, center + half)
    return lo, hi


def rate_block(successes: int, n: int) -> dict[str, Any]:
    """``{n, successes, attack_success_rate, asr_ci95}`` for ``successes`` out of ``n``."""
    lo, hi = wilson_interval(successes, n)
    return {
        "n": n,
        "successes": successes,
        "attack_success_rate": successes / n if n else 0.0,
        "asr_ci95": [lo, hi],
    }


def best_payloads(attempts: Iterable[Mapping[str, Any]], k: int = 5) -> list[dict[str, Any]]:
    """The ``k`` best distinct payloads: successes first, then payloads that got past every
    defence, then by objective (ties: the earliest query)."""
    ranked = sorted(
        attempts,
        key=lambda a: (
            not a["success"],
            a["stopped_by"] is not None,
            -float(a["objective"]),
            int(a["query"]),
        ),
    )
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for a in ranked:
        if a["payload"] in seen:
            continue
        seen.add(a["payload"])
        out.append(
            {
                "payload": a["payload"],
                "objective": float(a["objective"]),
                "success": bool(a["success"]),
                "stopped_by": a["stopped_by"],
                "query": int(a["query"]),
            }
        )
        if len(out) == k:
            break
    return out


def stopped_by_counts(attempts: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``{defence: number of failed attempts it stopped}``; failures that passed every defence
    but fell short of the success threshold count under ``"none"``. Sorted by count."""
    counts: dict[str, int] = {}
    for a in attempts:
        if a["success"]:
            continue
        key = a["stopped_by"] or NOT_STOPPED
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def attack_stats(attempts: Sequence[Mapping[str, Any]], k_best: int = 5) -> dict[str, Any]:
    """The statistics block of ``summary.json`` from the attempts evaluated so far."""
    n = len(attempts)
    successes = sum(1 for a in attempts if a["success"])
    first = next((int(a["query"]) + 1 for a in attempts if a["success"]), None)
    block = rate_block(successes, n)
    return {
        "queries": n,
        "successes": successes,
        "attack_success_rate": block["attack_success_rate"],
        "asr_ci95": block["asr_ci95"],
        "queries_to_first_success": first,
        "best_payloads": best_payloads(attempts, k_best),
        "stopped_by": stopped_by_counts(attempts),
    }
