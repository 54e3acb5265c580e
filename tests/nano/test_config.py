"""Nano plasticity defaults: a change of data regime never locks a session out of learning."""

from __future__ import annotations

import torch

from ttt.engine import TorchOptimBackend
from ttt.nano.config import PlasticityConfig


def _statuses(pcfg: PlasticityConfig) -> list[str]:
    """10 transactions on a quiet regime, then 10 on one whose gradients are 1000x larger."""
    g = torch.Generator().manual_seed(0)
    true_w = torch.randn(3, 4, generator=g)
    x_tr, x_ho = torch.randn(32, 4, generator=g), torch.randn(32, 4, generator=g)
    w = torch.nn.Parameter(torch.randn(3, 4, generator=g) * 0.1)
    engine = pcfg.engine(TorchOptimBackend.muon({"W": w}, pcfg.muon()))
    out = []
    for t in range(20):
        # Nano's losses scale with the speed of the mass: at rest vs. moving differs ~1e3x.
        scale = 1e-3 if t < 10 else 1.0

        def loss(x: torch.Tensor, scale: float = scale) -> torch.Tensor:
            return (scale * (x @ w.T - x @ true_w.T)).pow(2).mean().reshape(1)

        res = engine.transact(
            t=t,
            loss_fn=lambda: loss(x_tr),
            probe_fn=lambda: {"holdout_loss": loss(x_ho), "max_h": torch.zeros(1)},
        )
        out.append(res.events[0].status)
    return out


def test_default_checks_keep_learning_after_a_regime_change():
    statuses = _statuses(PlasticityConfig())
    assert "rollback_grad_norm" not in statuses
    assert statuses[10:].count("commit") >= 5


def test_committed_history_pre_check_would_lock_the_session_out():
    # Why the default has no gradient-norm pre-check: its history only grows on commits, so
    # after a shift to larger gradients it refuses every later update.
    checks = PlasticityConfig().checks
    checks = {**checks, "pre": [{"kind": "grad_norm_robust_z", "z_max": 6.0, "min_history": 8}]}
    statuses = _statuses(PlasticityConfig(checks=checks))
    assert statuses[10:] == ["rollback_grad_norm"] * 10
