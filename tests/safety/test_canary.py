"""Canary sets for text and the canary rollback checks (absolute delta, robust z)."""

from __future__ import annotations

import json
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
from ttt.safety.canary import (
    DEFAULT_CANARIES,
    CanarySet,
    canary_losses,
    canary_probes,
    default_canaries,
    per_canary,
)


def _probes(mean: list[float], per: list[list[float]] | None = None) -> dict[str, torch.Tensor]:
    d = {"canary_loss": torch.tensor(mean, dtype=torch.float64)}
    for c, col in enumerate(per or []):
        d[f"canary_loss.{c}"] = torch.tensor(col, dtype=torch.float64)
    return d


# -- CanarySet -------------------------------------------------------------------------------


def test_default_set_is_small_varied_and_fixed():
    cs = CanarySet.default()
    assert 5 <= len(cs) <= 8
    assert len(set(cs.names)) == len(cs) and len(set(cs.texts)) == len(cs)
    assert {"arithmetic", "geography", "python"} <= set(cs.names)
    assert all(t.endswith(".") and len(t.split()) >= 8 for t in cs.texts)
    assert cs.texts == tuple(t for _, t in DEFAULT_CANARIES) == tuple(default_canaries())
    assert CanarySet.from_dict(cs.to_dict()) == cs
    assert cs.probe_names()["canary_loss.0"] == cs.names[0]


def test_user_canaries_from_lists_and_files(tmp_path):
    cs = CanarySet.from_texts(["alpha beta", "gamma delta"])
    assert cs.names == ("canary_0", "canary_1")
    (tmp_path / "c.txt").write_text("first canary\n\n second canary \n")
    assert CanarySet.from_file(tmp_path / "c.txt").texts == ("first canary", "second canary")
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"text": "one", "name": "a"}) + "\n" + json.dumps({"text": "two"}) + "\n"
    )
    assert CanarySet.from_file(tmp_path / "c.jsonl").names == ("a", "canary_1")
    (tmp_path / "c.json").write_text(json.dumps({"canaries": ["x y", {"text": "z", "name": "q"}]}))
    assert CanarySet.from_file(tmp_path / "c.json").texts == ("x y", "z")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ValueError, match=r"bad\.json"):
        CanarySet.from_file(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="non-empty"):
        CanarySet.from_texts(["ok", "  "])
    with pytest.raises(ValueError, match=r"1\.\.16"):
        CanarySet.from_texts([f"t{i}" for i in range(17)])
    with pytest.raises(ValueError, match="unique"):
        CanarySet.from_texts(["a", "b"], names=["x", "x"])
    with pytest.raises(ValueError, match="not a valid name"):
        CanarySet.from_texts(["a"], names=["../x"])


def test_canary_losses_and_probes():
    cs = CanarySet.from_texts(["aa", "bbbb", "c"])
    tokens = cs.encode(lambda t: [ord(ch) for ch in t])
    assert tokens == [[97, 97], [98] * 4, [99]]
    # loss_of returns (S,) per canary: S = 2 sessions.
    losses = canary_losses(lambda tok: torch.tensor([len(tok), 10.0 * len(tok)]), tokens)
    assert losses.shape == (2, 3)
    assert losses[1].tolist() == [20.0, 40.0, 10.0]
    # Scalars are one session; gradients flow.
    w = torch.tensor(2.0, requires_grad=True)
    single = canary_losses(lambda tok: w * len(tok), tokens)
    assert single.shape == (1, 3)
    single.sum().backward()
    assert float(w.grad) == 7.0
    probes = canary_probes(losses)
    assert list(probes) == ["canary_loss", "canary_loss.0", "canary_loss.1", "canary_loss.2"]
    assert probes["canary_loss"].tolist() == pytest.approx([7 / 3, 70 / 3])
    assert per_canary({k: float(v[0]) for k, v in probes.items()}) == [2.0, 4.0, 1.0]
    with pytest.raises(ValueError, match="session counts"):
        canary_losses(lambda tok: torch.zeros(len(tok)), tokens)


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
