"""Nano pretraining: the tiny budget learns, is deterministic, and keeps seeds disjoint."""

import dataclasses

import pytest
import torch

from ttt.nano.env import PRETRAIN_SEED_BASE
from ttt.nano.model import NanoSSMConfig, decay_of, forward, plastic_names
from ttt.nano.pretrain import PretrainConfig, pretrain, tiny_model_config


def test_tiny_pretraining_lowers_loss_and_is_deterministic():
    cfg = PretrainConfig.tiny(seed=3)
    seen = []
    params, mcfg, log = pretrain(cfg, tiny_model_config(), progress=lambda s, n, r: seen.append(s))
    assert mcfg == tiny_model_config()
    assert seen == [r["step"] for r in log] and seen[-1] == cfg.steps
    assert log[-1]["loss"] < 0.5 * log[0]["loss"]
    assert set(params) == {*plastic_names, "a_raw"}
    assert all(torch.isfinite(p).all() and not p.requires_grad for p in params.values())
    d = decay_of(params["a_raw"])
    assert ((d > 0) & (d < 1)).all()

    again, _, log2 = pretrain(cfg, tiny_model_config())
    for k in params:
        assert torch.equal(params[k], again[k]), k
    assert [r["loss"] for r in log] == [r["loss"] for r in log2]

    other, _, _ = pretrain(PretrainConfig.tiny(seed=4), tiny_model_config())
    assert not torch.equal(other["W_o"], params["W_o"])


def test_pretraining_seeds_are_disjoint_from_evaluation_seeds():
    cfg = PretrainConfig(seed=0)
    assert min(cfg.env_seed(k) for k in range(cfg.pool_sessions)) == PRETRAIN_SEED_BASE
    seeds = {PretrainConfig(seed=s).env_seed(k) for s in range(3) for k in range(384)}
    assert len(seeds) == 3 * 384  # different pretraining seeds use different sessions
    assert all(s >= PRETRAIN_SEED_BASE for s in seeds)


def test_config_roundtrip_and_validation():
    cfg = PretrainConfig(seed=2, env_modes=("linear",), obs_noise_levels=(0.0, 0.01))
    assert PretrainConfig.from_dict(cfg.to_dict()) == cfg
    no_gauge = PretrainConfig(gauge=None)
    assert PretrainConfig.from_dict(no_gauge.to_dict()) == no_gauge
    assert NanoSSMConfig.from_dict(NanoSSMConfig().to_dict()) == NanoSSMConfig()
    for kwargs, field in [
        ({"steps": 0}, "steps"),
        ({"seq_len": 400}, "seq_len"),
        ({"lr": -1.0}, "lr"),
        ({"mu_range": (0.3, 0.1)}, "mu_range"),
        ({"env_modes": ("quadratic",)}, "env_modes"),
        ({"obs_noise_levels": (-0.1,)}, "obs_noise_levels"),
        ({"momentum": 1.0}, "momentum"),
        ({"seed": -1}, "seed"),
        ({"gauge": (1.0, 0.0, 10.0)}, "gauge"),
        ({"gauge": (1.0, 10.0)}, "gauge"),
    ]:
        with pytest.raises(ValueError, match=field):
            PretrainConfig(**kwargs)


def test_progress_callback_can_cancel():
    def cancel(step, total, info):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pretrain(PretrainConfig.tiny(), tiny_model_config(), progress=cancel)


def test_pretrained_base_is_stored_in_the_gauge_with_the_same_function():
    cfg = PretrainConfig.tiny(seed=1)
    assert cfg.gauge == (1.0, 10.0, 10.0)
    params, mcfg, _ = pretrain(cfg, tiny_model_config())
    norms = [float(torch.linalg.matrix_norm(params[n], ord=2)) for n in plastic_names]
    assert norms[1] / norms[0] == pytest.approx(10.0, rel=1e-5)
    assert norms[2] / norms[0] == pytest.approx(10.0, rel=1e-5)
    raw, _, _ = pretrain(dataclasses.replace(cfg, gauge=None), mcfg)
    assert torch.equal(raw["a_raw"], params["a_raw"])
    obs = torch.randn(30, 2, 4, generator=torch.Generator().manual_seed(0)) * 0.3
    act = torch.randn(29, 2, 2, generator=torch.Generator().manual_seed(1)) * 0.05
    a = forward(raw, mcfg, obs[:-1], act).delta
    b = forward(params, mcfg, obs[:-1], act).delta
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
