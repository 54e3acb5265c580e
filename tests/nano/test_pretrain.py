"""Nano pretraining: the tiny budget learns, is deterministic, and keeps seeds disjoint."""

import pytest
import torch

from ttt.nano.env import PRETRAIN_SEED_BASE
from ttt.nano.model import NanoSSMConfig, decay_of, plastic_names
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
    ]:
        with pytest.raises(ValueError, match=field):
            PretrainConfig(**kwargs)


def test_progress_callback_can_cancel():
    def cancel(step, total, info):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pretrain(PretrainConfig.tiny(), tiny_model_config(), progress=cancel)
