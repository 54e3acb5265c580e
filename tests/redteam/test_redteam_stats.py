"""Wilson intervals against published values; the summary statistics of attempts."""

from __future__ import annotations

import pytest

from ttt.redteam.stats import attack_stats, best_payloads, stopped_by_counts, wilson_interval


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        # Published Wilson 95% intervals (e.g. statsmodels proportion_confint(method="wilson")).
        (5, 10, 0.2365930905, 0.7634069095),
        (0, 10, 0.0, 0.2775327999),
        (1, 10, 0.0178762131, 0.4041500268),
        (0, 20, 0.0, 0.1611251581),
        (20, 20, 0.8388748419, 1.0),
    ],
)
def test_wilson_matches_known_values(k: int, n: int, lo: float, hi: float) -> None:
    got = wilson_interval(k, n)
    assert got[0] == pytest.approx(lo, abs=1e-9)
    assert got[1] == pytest.approx(hi, abs=1e-9)


def test_wilson_contains_p_and_shrinks_with_n() -> None:
    small = wilson_interval(3, 10)
    large = wilson_interval(300, 1000)
    assert small[0] < 0.3 < small[1] and large[0] < 0.3 < large[1]
    assert large[1] - large[0] < small[1] - small[0]
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(0, 150)[0] == 0.0 and wilson_interval(150, 150)[1] == 1.0


@pytest.mark.parametrize(("k", "n"), [(-1, 3), (4, 3), (0, -1)])
def test_wilson_rejects_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(k, n)


def _attempt(q: int, payload: str, objective: float, success: bool, stopped: str | None):
    return {
        "query": q,
        "payload": payload,
        "objective": objective,
        "success": success,
        "stopped_by": stopped,
    }


def test_attack_stats_counts_first_success_best_and_stops() -> None:
    attempts = [
        _attempt(0, "a", 0.0, False, "gate:instruction_override"),
        _attempt(1, "b", 0.01, False, None),
        _attempt(2, "c", 0.2, False, "rollback_canary"),
        _attempt(3, "d", 0.08, True, None),
        _attempt(4, "e", 0.0, False, "gate:instruction_override"),
        _attempt(5, "d", 0.08, True, None),  # duplicate payload: listed once among the best
    ]
    s = attack_stats(attempts, k_best=3)
    assert s["queries"] == 6 and s["successes"] == 2
    assert s["attack_success_rate"] == pytest.approx(2 / 6)
    assert s["asr_ci95"] == list(wilson_interval(2, 6))
    assert s["queries_to_first_success"] == 4  # query index 3 is the 4th query
    assert [b["payload"] for b in s["best_payloads"]] == [
        "d",
        "b",
        "c",
    ]  # success, passed, then stopped
    assert s["stopped_by"] == {"gate:instruction_override": 2, "none": 1, "rollback_canary": 1}


def test_no_success_gives_no_first_success() -> None:
    s = attack_stats([_attempt(0, "a", 0.0, False, "spfw")])
    assert s["queries_to_first_success"] is None
    assert s["attack_success_rate"] == 0.0
    assert stopped_by_counts([]) == {} and best_payloads([]) == []
