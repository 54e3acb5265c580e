"""Anomaly scores: robust, one-sided, per family, explained; the benchmark's metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ttt.safety.anomaly import (
    AnomalyConfig,
    UpdateRecord,
    precision_recall_at,
    robust_z,
    rollback_bursts,
    score,
)


def rec(key: str, family: str, wp: float, status: str = "commit", **kw: float) -> UpdateRecord:
    return UpdateRecord(
        key=key,
        family=family,
        kind="sentry",
        item=family,
        run=None,
        position=int(key.split("=")[-1]) if "=" in key else 0,
        status=status,
        features={"write_pressure": math.log10(wp), **kw},
        raw={"write_pressure": wp},
    )


def test_robust_z_is_one_sided_and_robust() -> None:
    z, med, _ = robust_z(np.array([1.0, 1.1, 0.9, 1.0, 1.05, 50.0, 0.0, math.nan]))
    assert med == pytest.approx(1.0)
    assert z[5] > 20  # the spike
    assert z[6] == 0.0  # below the median: not suspicious
    assert math.isnan(z[7])
    const, _, _ = robust_z(np.array([2.0] * 9))
    assert np.all(const == 0.0)
    lone, _, _ = robust_z(np.array([2.0] * 9 + [3.0]))
    assert lone[-1] > 3 and np.all(lone[:-1] == 0)  # MAD 0: the mean-deviation floor


def test_families_are_scored_on_their_own_scales() -> None:
    # family A writes ~1e3, family B ~1e-3; B's 1e-1 is the anomaly, A's 1e3 are normal
    recs = [rec(f"a/x/chunk={i}", "A", 1e3 * (1 + 0.01 * (i % 5))) for i in range(30)]
    recs += [rec(f"b/x/chunk={i}", "B", 1e-3 * (1 + 0.01 * (i % 5))) for i in range(30)]
    recs.append(rec("b/x/chunk=99", "B", 1e-1))
    out = score(recs, AnomalyConfig(top=5))
    assert out[0].record.key == "b/x/chunk=99" and out[0].rank == 1
    assert out[0].score > 10 * out[1].score
    assert "write pressure (grad norm) 0.1 is" in out[0].why[0]
    assert "median 0.001" in out[0].why[0]
    assert len(out) == 5


def test_status_and_small_family_are_said_and_ranking_is_deterministic() -> None:
    recs = [rec(f"s/r/chunk={i}", "F", 1.0 + 0.1 * i) for i in range(5)]
    recs.append(rec("s/r/chunk=9", "F", 9.0, status="rollback_canary"))
    a = score(recs, AnomalyConfig(top=10))
    b = score(list(reversed(recs)), AnomalyConfig(top=10))
    assert [f.record.key for f in a] == [f.record.key for f in b]
    top = a[0]
    assert top.record.key == "s/r/chunk=9"
    assert "status: rollback_canary" in top.why
    assert any("small family (6 attempts)" in w for w in top.why)
    d = top.to_dict()
    assert d["signals"]["write_pressure"] == 9.0 and d["z"]["canary_delta"] is None


def test_isolation_forest_ranks_the_planted_outlier_first_and_is_seeded() -> None:
    rng = np.random.default_rng(0)
    recs = [
        rec(
            f"s/r/chunk={i}",
            "F",
            float(10 ** rng.normal(0, 0.05)),
            canary_delta=float(rng.normal(0, 0.01)),
        )
        for i in range(60)
    ]
    recs.append(rec("s/r/chunk=77", "F", 30.0, canary_delta=0.5))
    cfg = AnomalyConfig(method="iforest", top=3, seed=1)
    a, b = score(recs, cfg), score(recs, cfg)
    assert a[0].record.key == "s/r/chunk=77"
    assert [f.score for f in a] == [f.score for f in b]


def test_rollback_bursts_count_the_window() -> None:
    s = ["commit", "rollback_canary", "blocked_gate", "commit", "commit", "rollback_canary"]
    assert rollback_bursts(s, 3) == [0, 1, 2, 2, 1, 1]


def test_precision_recall_at_k() -> None:
    r = precision_recall_at(["a", "x", "b", "y"], {"a", "b", "c"}, 2)
    assert r == {"k": 2, "hits": 1, "precision": 0.5, "recall": 1 / 3}
    with pytest.raises(ValueError, match="k must be"):
        precision_recall_at([], set(), 0)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"method": "lof"}, "method"),
        ({"top": 0}, "top"),
        ({"burst_window": True}, "burst_window"),
        ({"explain_z": 0}, "explain_z"),
    ],
)
def test_config_validation_names_the_field(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        AnomalyConfig(**kw)  # type: ignore[arg-type]


def test_record_validation() -> None:
    with pytest.raises(ValueError, match="unknown signal"):
        UpdateRecord("k", "f", "nano", "i", None, 0, "commit", {"bogus": 1.0})
    with pytest.raises(ValueError, match="kind"):
        UpdateRecord("k", "f", "other", "i", None, 0, "commit", {})


def test_a_burst_is_one_finding_with_its_neighbours_merged() -> None:
    recs = [rec(f"s/r/chunk={i}", "F", 1.0 + 0.5 * (i % 4)) for i in range(40)]
    for i in (20, 21, 22):  # one flood over three chunks
        recs[i] = rec(f"s/r/chunk={i}", "F", 50.0 + i)
    recs.append(rec("s/other/chunk=3", "F", 40.0))
    merged = score(recs, AnomalyConfig(top=3, merge_window=2))
    assert [f.record.key for f in merged[:2]] == ["s/r/chunk=22", "s/other/chunk=3"]
    assert {"s/r/chunk=21", "s/r/chunk=20"} <= set(merged[0].merged)
    apart = score(recs, AnomalyConfig(top=3, merge_window=0))
    assert [f.record.key for f in apart] == ["s/r/chunk=22", "s/r/chunk=21", "s/r/chunk=20"]
