"""Canary sets for text and the canary rollback checks (absolute delta, robust z)."""

from __future__ import annotations

import math

import pytest
import torch

from ttt.engine import (
    CanaryDelta,
    CanaryRobustZ,
    ChecksConfig,
    SignalHistory,
    canary_values,
)
from ttt.safety.canary import DEFAULT_CANARIES, check_canaries, default_canaries
from ttt.text.sentry import SentryConfig


def _probes(mean: list[float], per: list[list[float]] | None = None) -> dict[str, torch.Tensor]:
    d = {"canary_loss": torch.tensor(mean, dtype=torch.float64)}
    for c, col in enumerate(per or []):
        d[f"canary_loss.{c}"] = torch.tensor(col, dtype=torch.float64)
    return d


# -- canary texts ----------------------------------------------------------------------------


def test_default_set_is_small_varied_and_fixed():
    texts = default_canaries()
    names = [n for n, _ in DEFAULT_CANARIES]
    assert 5 <= len(texts) <= 8
    assert len(set(names)) == len(texts) and len(set(texts)) == len(texts)
    assert {"arithmetic", "geography", "python"} <= set(names)
    assert all(t.endswith(".") and len(t.split()) >= 8 for t in texts)
    assert SentryConfig().canaries is None  # the Sentry's default is this set


def test_user_canaries_are_checked_naming_the_field():
    assert check_canaries(["alpha beta", "gamma delta"]) == ["alpha beta", "gamma delta"]
    with pytest.raises(ValueError, match=r"canaries\[1\] must be a non-empty string"):
        check_canaries(["ok", "  "])
    with pytest.raises(ValueError, match=r"need 1\.\.16 texts, got 17"):
        check_canaries([f"t{i}" for i in range(17)])
    with pytest.raises(ValueError, match=r"need 1\.\.16 texts, got 0"):
        check_canaries([])
    with pytest.raises(ValueError, match=r"canaries\[0\] has 4001 characters"):
        check_canaries(["x" * 4001])
    with pytest.raises(ValueError, match="must be a list of strings, got str"):
        check_canaries("one canary")
    # The Sentry (and chat) config uses the same check.
    with pytest.raises(ValueError, match=r"SentryConfig\.canaries: need 1\.\.16 texts, got 17"):
        SentryConfig(canaries=[f"t{i}" for i in range(17)])
    with pytest.raises(ValueError, match=r"SentryConfig\.canaries\[0\] must be a non-empty"):
        SentryConfig(canaries=[""])


# -- checks ----------------------------------------------------------------------------------


def test_canary_delta_judges_the_worst_canary():
    # Session 0: the mean barely moves but canary 1 rises by 0.3 -> rollback.
    # Session 1: every canary drops -> commit.
    pre = _probes([1.0, 1.0], [[1.2, 1.0], [0.8, 1.0]])
    post = _probes([1.0, 0.9], [[0.9, 0.9], [1.1, 0.9]])
    out = CanaryDelta(max_delta=0.1).evaluate(pre, post)
    assert out.passed.tolist() == [False, True]
    assert float(out.value[0]) == pytest.approx(0.3)
    rec = out.record(0)
    assert rec["canary_worst"] == "canary_loss.1"
    assert rec["canary_before"] == 1.0 and rec["canary_after"] == 1.0
    assert rec["canary_delta"] == pytest.approx(0.3)
    assert rec["canary_worst_before"] == pytest.approx(0.8)
    assert "canary_loss.1" in rec["reason"]
    # Without per-canary values the mean is judged: the same step passes.
    mean_only = CanaryDelta(max_delta=0.1).evaluate(_probes([1.0, 1.0]), _probes([1.0, 0.9]))
    assert mean_only.passed.tolist() == [True, True]
    # A NaN canary after the step always fails.
    nan = CanaryDelta(max_delta=10.0).evaluate(
        _probes([1.0], [[1.0], [1.0]]), _probes([math.nan], [[1.0], [math.nan]])
    )
    assert nan.passed.tolist() == [False]
    with pytest.raises(ValueError, match="canary probe"):
        CanaryDelta().evaluate({"holdout_loss": torch.zeros(1)}, {"holdout_loss": torch.zeros(1)})


def test_canary_values_without_mean_key():
    pre = {"canary_loss.0": torch.tensor([1.0]), "canary_loss.1": torch.tensor([3.0])}
    post = {"canary_loss.0": torch.tensor([1.5]), "canary_loss.1": torch.tensor([3.0])}
    v = canary_values(pre, post)
    assert v is not None and float(v.before[0]) == 2.0 and float(v.after[0]) == 2.25
    assert float(v.delta[0]) == 0.5 and v.worst == ["canary_loss.0"]
    assert canary_values({"x": torch.zeros(1)}, {"x": torch.zeros(1)}) is None


def _history(values: list[float], capacity: int = 32) -> SignalHistory:
    h = SignalHistory.empty(1, capacity)
    for v in values:
        h.push(torch.tensor([v]), torch.tensor([True]))
    return h


def test_canary_robust_z_needs_history_floors_mad_and_ignores_drops():
    check = CanaryRobustZ(z_max=6.0, min_history=4, rel_floor=0.05, abs_floor=1e-8)
    pre, post = _probes([1.0]), _probes([1.5])
    # Not enough history: passes, no score.
    out = check.evaluate(pre, post, _history([0.01] * 3))
    assert bool(out.passed[0]) and out.record(0)["score"] is None
    # A flat history (MAD = 0): the scale is floored at rel_floor * |median| = 5e-4, no NaN.
    h = _history([0.01] * 8)
    out = check.evaluate(pre, post, h)
    z = float(out.score[0])
    assert math.isfinite(z) and z == pytest.approx((0.5 - 0.01) / (0.05 * 0.01))
    assert not bool(out.passed[0]) and out.status == "rollback_canary"
    assert out.record(0)["canary_z"] == pytest.approx(z)
    assert "robust z" in out.reasons[0]
    assert float(out.threshold[0]) == pytest.approx(0.01 + 6.0 * 5e-4)
    # Zero median and zero MAD: abs_floor keeps z finite.
    out0 = check.evaluate(_probes([1.0]), _probes([1.0 + 1e-9]), _history([0.0] * 8))
    assert float(out0.score[0]) == pytest.approx(0.1) and bool(out0.passed[0])
    # A within-spread delta passes; a big drop never fails; min_delta guards tiny rises.
    spread = _history([0.01, 0.02, 0.03, 0.015, 0.025, 0.01, 0.02, 0.03])
    assert bool(check.evaluate(pre, _probes([1.02]), spread).passed[0])
    assert bool(check.evaluate(pre, _probes([0.0]), spread).passed[0])
    lenient = CanaryRobustZ(z_max=6.0, min_history=4, min_delta=1.0)
    assert bool(lenient.evaluate(pre, post, h).passed[0])
    # NaN fails even without history.
    assert not bool(check.evaluate(pre, _probes([math.nan]), _history([])).passed[0])


def test_canary_checks_validate_and_round_trip():
    cfg = ChecksConfig(post=[CanaryDelta(max_delta=0.2), CanaryRobustZ(z_max=4.0)])
    again = ChecksConfig.from_dict(cfg.to_dict())
    assert again.to_dict() == cfg.to_dict()
    with pytest.raises(ValueError, match="min_history"):
        ChecksConfig.from_dict({"post": [{"kind": "canary_robust_z", "min_history": 0}]})
    with pytest.raises(ValueError, match="abs_floor"):
        CanaryRobustZ(abs_floor=0.0)
    with pytest.raises(ValueError, match="max_delta"):
        CanaryDelta(max_delta=float("inf"))
    with pytest.raises(ValueError, match="pre-check"):
        ChecksConfig.from_dict({"post": [{"kind": "canary_alignment_min"}]})
