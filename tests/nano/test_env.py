"""Nano env: dynamics formulas, determinism, batching, resume, schedules, validation."""

import json

import pytest
import torch

from ttt.nano.env import (
    EnvConfig,
    NanoEnv,
    dynamics,
    friction,
    mu_schedule,
    oracle_step,
    simulate,
)

F64 = torch.float64


def test_linear_dynamics_on_hand_made_state():
    pos = torch.tensor([[1.0, -2.0]], dtype=F64)
    vel = torch.tensor([[0.5, 0.25]], dtype=F64)
    a = torch.tensor([[0.1, -0.2]], dtype=F64)
    mu = torch.tensor([0.2], dtype=F64)
    p, v = dynamics(pos, vel, a, mu, torch.tensor([False]))
    # v <- (1 - mu) v + a; p <- p + v
    assert torch.allclose(v, torch.tensor([[0.8 * 0.5 + 0.1, 0.8 * 0.25 - 0.2]], dtype=F64))
    assert torch.allclose(p, pos + v)


def test_nonlinear_friction_static_and_dynamic():
    mu = torch.tensor([0.1, 0.1, 0.6], dtype=F64)
    nl = torch.tensor([True, True, True])
    # speeds: 0.1 (< 2mu=0.2: static 2mu), 0.5 (> 0.2: dynamic 0.5mu), 0.3 (< 1.2: min(.95,1.2))
    vel = torch.tensor([[0.06, 0.08], [0.3, 0.4], [0.3, 0.0]], dtype=F64)
    f = friction(vel, mu, nl)
    assert torch.allclose(f, torch.tensor([0.2, 0.05, 0.95], dtype=F64))
    p, v = dynamics(torch.zeros(3, 2, dtype=F64), vel, torch.zeros(3, 2, dtype=F64), mu, nl)
    assert torch.allclose(v, (1 - f).unsqueeze(-1) * vel)
    # linear mode ignores the threshold
    assert torch.allclose(friction(vel, mu, ~nl), mu)


def test_threshold_is_strict_at_two_mu():
    mu = torch.tensor([0.25], dtype=F64)
    vel = torch.tensor([[0.5, 0.0]], dtype=F64)  # speed == 2mu: dynamic
    assert float(friction(vel, mu, torch.tensor([True]))[0]) == pytest.approx(0.125)


@pytest.mark.parametrize("mode", ["linear", "nonlinear"])
def test_noise_free_oracle_step_is_exact(mode):
    cfgs = [EnvConfig(mode=mode, mu=m) for m in (0.03, 0.12, 0.24)]
    obs, act, mus = simulate(cfgs, [0, 1, 2], 80)
    pred = oracle_step(obs[:-1], act, mus, mode)
    assert torch.equal(pred, obs[1:])


def test_oracle_step_accepts_mode_tensor_and_float_mu():
    obs = torch.tensor([[0.0, 0.0, 0.05, 0.0], [0.0, 0.0, 1.0, 0.0]], dtype=F64)
    act = torch.zeros(2, 2, dtype=F64)
    out = oracle_step(obs, act, 0.1, torch.tensor([True, False]))
    assert torch.allclose(out[:, 2], torch.tensor([0.05 * 0.8, 0.9], dtype=F64))


def test_same_seed_same_trajectory_and_different_seed_differs():
    cfg = EnvConfig(mode="nonlinear", mu=0.1, obs_noise_std=0.01)
    a = simulate(cfg, 3, 50)
    b = simulate(cfg, 3, 50)
    c = simulate(cfg, 4, 50)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)
    assert not torch.equal(a[0], c[0])


def test_batched_equals_one_by_one():
    cfgs = [
        EnvConfig(mode="linear", mu=0.05),
        EnvConfig(mode="nonlinear", mu=0.2, obs_noise_std=0.01, process_noise_std=0.001),
        EnvConfig(mode="linear", mu=0.4, policy="hold"),
        EnvConfig(mode="nonlinear", mu=0.1, policy="gaussian", schedule="jump", jump_to=0.3),
    ]
    seeds = [11, 12, 13, 14]
    obs, act, mus = simulate(cfgs, seeds, 40)
    for i, (c, s) in enumerate(zip(cfgs, seeds, strict=True)):
        o1, a1, m1 = simulate([c], [s], 40)
        assert torch.equal(obs[:, i], o1[:, 0])
        assert torch.equal(act[:, i], a1[:, 0])
        assert torch.equal(mus[:, i], m1[:, 0])


def test_observation_noise_changes_observations_not_the_true_motion():
    clean = simulate(EnvConfig(mu=0.1), 5, 60)
    noisy = simulate(EnvConfig(mu=0.1, obs_noise_std=0.01), 5, 60)
    assert torch.equal(clean[1], noisy[1])  # same actions (the policy acts on the true state)
    diff = noisy[0] - clean[0]
    assert 0.005 < float(diff.std()) < 0.015


@pytest.mark.parametrize("via_json", [False, True])
def test_resume_equals_uninterrupted(via_json, tmp_path):
    cfgs = [
        EnvConfig(mode="nonlinear", mu=0.15, obs_noise_std=0.01, process_noise_std=0.002),
        EnvConfig(mode="linear", mu=0.05, schedule="drift", drift_rate=1e-3),
    ]
    full = simulate(cfgs, [7, 8], 60)

    env = NanoEnv(cfgs, [7, 8])
    first = env.rollout(25)
    if via_json:
        path = tmp_path / "state.json"
        path.write_text(json.dumps(env.state_to_json()))
        resumed = NanoEnv(cfgs, [7, 8])
        resumed.load_state_json(json.loads(path.read_text()))
    else:
        from safetensors.torch import load_file, save_file

        save_file(env.state_dict(), str(tmp_path / "state.safetensors"))
        resumed = NanoEnv(cfgs, [7, 8])
        resumed.load_state_dict(load_file(str(tmp_path / "state.safetensors")))
    assert resumed.t == 25
    second = resumed.rollout(35)
    assert torch.equal(torch.cat([first[0], second[0][1:]]), full[0])
    assert torch.equal(torch.cat([first[1], second[1]]), full[1])
    assert torch.equal(torch.cat([first[2], second[2]]), full[2])


def test_load_state_rejects_wrong_shapes():
    env = NanoEnv(EnvConfig(), [0, 1])
    sd = NanoEnv(EnvConfig(), [0]).state_dict()
    with pytest.raises(ValueError, match="pos"):
        env.load_state_dict(sd)


def test_mu_schedules():
    drift = EnvConfig(mu=0.1, schedule="drift", drift_rate=0.01)
    assert drift.mu_at(0) == pytest.approx(0.1)
    assert drift.mu_at(5) == pytest.approx(0.15)
    assert drift.mu_at(10_000) == pytest.approx(0.999)  # clamped inside (0, 1)
    down = EnvConfig(mu=0.1, schedule="drift", drift_rate=-0.01)
    assert down.mu_at(100) == pytest.approx(1e-3)
    jump = EnvConfig(mu=0.1, schedule="jump", jump_step=10, jump_to=0.4)
    assert [jump.mu_at(t) for t in (0, 9, 10, 50)] == [0.1, 0.1, 0.4, 0.4]
    assert torch.allclose(mu_schedule([jump, drift], 10), torch.tensor([0.4, 0.2], dtype=F64))
    _, _, mus = simulate([jump], [0], 12)
    assert mus[9, 0] == 0.1 and mus[10, 0] == 0.4
    _, _, mus = simulate([EnvConfig(mu=0.1)], [0], 5)
    assert torch.equal(mus, torch.full((5, 1), 0.1, dtype=F64))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mode": "quadratic"}, "mode"),
        ({"mu": 0.0}, "mu"),
        ({"mu": 1.0}, "mu"),
        ({"mu": float("nan")}, "mu"),
        ({"obs_noise_std": -0.1}, "obs_noise_std"),
        ({"process_noise_std": float("inf")}, "process_noise_std"),
        ({"action_std": -1.0}, "action_std"),
        ({"policy": "greedy"}, "policy"),
        ({"schedule": "sine"}, "schedule"),
        ({"schedule": "drift"}, "drift_rate"),
        ({"schedule": "jump"}, "jump_to"),
        ({"schedule": "jump", "jump_to": 1.5}, "jump_to"),
        ({"jump_step": -1}, "jump_step"),
        ({"coast_prob": 0.8, "brake_prob": 0.5}, "brake_prob"),
        ({"action_hold": 0.5}, "action_hold"),
    ],
)
def test_config_validation_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        EnvConfig(**kwargs)


def test_config_roundtrip_and_out_of_range_mu():
    cfg = EnvConfig(mode="nonlinear", mu=0.55, schedule="jump", jump_step=3, jump_to=0.1)
    assert EnvConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        EnvConfig.from_dict({"mu": 0.1, "bogus": 1})


def test_env_rejects_mismatched_seeds_and_bad_actions():
    with pytest.raises(ValueError, match="one config per seed"):
        NanoEnv([EnvConfig(), EnvConfig()], [0, 1, 2])
    env = NanoEnv(EnvConfig(), [0, 1])
    with pytest.raises(ValueError, match="action"):
        env.step(torch.zeros(3, 2))
    obs, a, mu = env.step(torch.full((2, 2), 0.5))
    assert torch.equal(a, torch.full((2, 2), 0.5, dtype=F64))
    assert obs.shape == (2, 4) and mu.shape == (2,)
