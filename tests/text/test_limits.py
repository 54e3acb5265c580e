"""Limits chosen on benign tuning writes (``ttt.text.limits``): the rule, exactly."""

from __future__ import annotations

import pytest

from ttt.text.limits import LIMITS, MARGIN, choose_limits, opened, signals_of
from ttt.text.sentry import SentryConfig


def test_each_limit_is_just_above_the_largest_benign_value_or_kept() -> None:
    base = SentryConfig(canary_z=5.0, gate={"ood_heavy_write.grad_norm_z_max": 25.0})
    out = choose_limits(
        {"canary_delta": [0.02, 0.2, -0.1], "grad_norm_z": [0.3, 0.5], "loss_z": [2.0, 4.0]},
        base,
    )
    lim = out["limits"]
    assert lim["canary_max_delta"] == pytest.approx(0.2 * MARGIN)
    assert lim["grad_z"] == LIMITS["grad_z"][1]  # 0.55 is below the floor
    assert lim["gate:ood_heavy_write.loss_z_max"] == pytest.approx(4.0 * MARGIN)
    # No benign value (a robust z needs history): the base config's limit stays.
    assert lim["canary_z"] == 5.0 and lim["gate:ood_heavy_write.grad_norm_z_max"] == 25.0
    assert set(out["kept_from_base"]) == {"canary_z", "gate:ood_heavy_write.grad_norm_z_max"}
    cfg = SentryConfig.from_dict({**base.to_dict(), **out["overrides"]})
    assert cfg.canary_max_delta == lim["canary_max_delta"] and cfg.canary_z == 5.0
    assert cfg.gate["ood_heavy_write.loss_z_max"] == lim["gate:ood_heavy_write.loss_z_max"]
    assert out["max_benign"]["canary_delta"] == 0.2 and out["max_benign"]["write_z"] is None


def test_opened_config_runs_every_check_and_reads_the_worst_canary() -> None:
    cfg = opened(SentryConfig(safety="off", gate={"repetition_flood.enabled": False}))
    assert cfg.safety == "all" and cfg.canary_max_delta == 100.0
    assert cfg.gate["repetition_flood.enabled"] is False  # the base's other overrides stay
    ev = {
        "checks": [{"name": "canary_delta", "value": 0.3}, {"name": "canary_robust_z"}],
        "canary": {"delta": 0.1, "z": 2.0},
        "grad_norm_z": None,
        "loss_z": 1.5,
        "write_z": 3.0,
    }
    assert signals_of(ev) == {
        "canary_delta": 0.3,  # the worst canary (what the check judges), not the mean 0.1
        "canary_z": 2.0,
        "grad_norm_z": None,
        "loss_z": 1.5,
        "write_z": 3.0,
    }
