"""Nano SSM: stability, batching, chunking equivalence, config and signature."""

import dataclasses
import math

import pytest
import torch

from ttt.nano.env import EnvConfig, simulate
from ttt.nano.model import (
    NanoSSMConfig,
    decay_of,
    features,
    forward,
    init_params,
    model_signature,
    mse_per_session,
    mse_per_step,
    param_count,
    plastic_names,
    rebalance_gauge,
    speed_bands,
)

CFG = NanoSSMConfig()


def _data(S=3, T=40, noise=0.01):
    cfgs = [
        EnvConfig(mode=m, mu=mu, obs_noise_std=noise)
        for m, mu in zip(
            ["linear", "nonlinear", "nonlinear"] * S, [0.05, 0.12, 0.22] * S, strict=True
        )
    ][:S]
    obs, act, _ = simulate(cfgs, list(range(S)), T)
    return obs, act


def _per_session(params, S, seed=1):
    g = torch.Generator().manual_seed(seed)
    out = dict(params)
    for n in plastic_names:
        base = params[n]
        out[n] = base.unsqueeze(0) + 0.05 * torch.randn(S, *base.shape, generator=g)
    return out


def test_decay_strictly_inside_unit_interval_for_extreme_a_raw():
    a_raw = torch.tensor([-1e30, -1e4, -50.0, -20.0, 0.0, 20.0, 50.0, 1e4, 1e30])
    d = decay_of(a_raw)
    assert torch.isfinite(d).all()
    assert (d > 0).all() and (d < 1).all()
    # matches exp(-softplus(a_raw)) where that is representable
    mid = torch.tensor([-3.0, 0.0, 3.0])
    assert torch.allclose(decay_of(mid), torch.exp(-torch.nn.functional.softplus(mid)))


def test_init_decays_span_the_configured_range():
    d = decay_of(init_params(CFG, 0)["a_raw"])
    assert d.min() == pytest.approx(CFG.decay_min, rel=1e-4)
    assert d.max() == pytest.approx(CFG.decay_max, rel=1e-4)


def test_forward_shapes_and_loss():
    obs, act = _data()
    params = init_params(CFG, 0)
    out = forward(params, CFG, obs[:-1], act)
    T, S = act.shape[:2]
    assert out.pred.shape == (T, S, 4) and out.pred.dtype == obs.dtype
    assert out.h.shape == (T, S, CFG.n_state)
    assert out.max_abs_h.shape == (T, S)
    assert mse_per_step(out, obs).shape == (T, S)
    loss = mse_per_session(out, obs)
    assert loss.shape == (S,)
    # the loss equals the MSE of predicted vs observed next observation
    ref = (out.pred - obs[1:]).pow(2).mean(-1).mean(0)
    assert torch.allclose(loss.double(), ref, rtol=1e-4)
    mask = torch.zeros(T, dtype=torch.bool)
    mask[::4] = True
    assert torch.allclose(mse_per_session(out, obs, mask), mse_per_step(out, obs)[mask].mean(0))


def test_translation_invariance():
    obs, act = _data(noise=0.0)
    params = init_params(CFG, 0)
    shifted = obs.clone()
    shifted[..., :2] += 1000.0
    a = forward(params, CFG, obs[:-1], act)
    b = forward(params, CFG, shifted[:-1], act)
    assert torch.equal(a.delta, b.delta)


@pytest.mark.parametrize("per_session", [False, True])
def test_chunked_with_carried_state_equals_one_pass(per_session):
    obs, act = _data(T=37)
    params = init_params(CFG, 0)
    if per_session:
        params = _per_session(params, obs.shape[1])
    full = forward(params, CFG, obs[:-1], act)
    h = torch.zeros(obs.shape[1], CFG.n_state)
    preds, hs = [], []
    for a, b in [(0, 5), (5, 6), (6, 22), (22, 37)]:
        out = forward(params, CFG, obs[a:b], act[a:b], h)
        preds.append(out.pred)
        hs.append(out.h)
        h = out.h_last
    assert torch.equal(torch.cat(preds), full.pred)
    assert torch.equal(torch.cat(hs), full.h)


@pytest.mark.parametrize("S", [1, 2, 5])
def test_shared_weights_chunking_is_exact_for_random_splits(S):
    # A session predicts in pieces of any length (a run can stop anywhere); every split must
    # give the bits of one pass, whatever the row count of each piece.
    obs, act = _data(S=S, T=64)
    params = init_params(CFG, 2)
    full = forward(params, CFG, obs[:-1], act)
    g = torch.Generator().manual_seed(S)
    for _ in range(20):
        cuts = [*sorted(set(torch.randint(1, 64, (4,), generator=g).tolist())), 64]
        h, preds, a = torch.zeros(S, CFG.n_state), [], 0
        for b in cuts:
            out = forward(params, CFG, obs[a:b], act[a:b], h)
            preds.append(out.pred)
            h, a = out.h_last, b
        assert torch.equal(torch.cat(preds), full.pred), cuts


def test_training_forward_matches_the_exact_forward_closely():
    # With a graph the forward uses one matmul (fast); values agree to rounding.
    obs, act = _data(S=2, T=40)
    params = init_params(CFG, 0)
    exact = forward(params, CFG, obs[:-1], act)
    train = {
        n: (p.clone().requires_grad_(True) if n in plastic_names else p) for n, p in params.items()
    }
    out = forward(train, CFG, obs[:-1], act)
    torch.testing.assert_close(out.delta.detach(), exact.delta, rtol=1e-5, atol=1e-6)


def test_batched_plastic_equals_per_session():
    obs, act = _data(S=4)
    params = _per_session(init_params(CFG, 0), 4)
    h0 = 0.1 * torch.randn(4, CFG.n_state, generator=torch.Generator().manual_seed(3))
    batched = forward(params, CFG, obs[:-1], act, h0)
    for i in range(4):
        single = {n: (params[n][i] if n in plastic_names else params[n]) for n in params}
        one = forward(single, CFG, obs[:-1, i : i + 1], act[:, i : i + 1], h0[i : i + 1])
        torch.testing.assert_close(batched.pred[:, i], one.pred[:, 0], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(batched.h[:, i], one.h[:, 0], rtol=1e-5, atol=1e-6)


def test_gradients_flow_to_all_params():
    obs, act = _data()
    params = {k: v.clone().requires_grad_(True) for k, v in init_params(CFG, 0).items()}
    mse_per_session(forward(params, CFG, obs[:-1], act), obs).sum().backward()
    for k, v in params.items():
        assert v.grad is not None and torch.isfinite(v.grad).all() and v.grad.abs().sum() > 0, k


def test_speed_bands_are_a_partition_of_unity():
    cfg = NanoSSMConfig(speed_min=0.1, speed_max=1.0, n_bands=3)
    speeds = torch.tensor([0.01, 0.1, 0.2, 0.316228, 1.0, 7.0])
    bands = speed_bands(cfg, speeds)  # (6, 3); centres 0.1, 0.316, 1.0
    torch.testing.assert_close(bands.sum(-1), torch.ones(6))
    assert ((bands > 0).sum(-1) <= 2).all()
    # below the first centre / above the last everything is in the end band
    torch.testing.assert_close(bands[0], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(bands[1], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(bands[3], torch.tensor([0.0, 1.0, 0.0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(bands[5], torch.tensor([0.0, 0.0, 1.0]))
    # 0.2 sits between centres 0.1 and 0.316: split linearly in log-speed
    w = math.log(0.2 / 0.1) / math.log(0.316228 / 0.1)
    torch.testing.assert_close(bands[2], torch.tensor([1 - w, w, 0.0]), atol=1e-5, rtol=0)


def test_features_place_velocity_in_its_speed_band():
    cfg = NanoSSMConfig(speed_min=0.1, speed_max=1.0, n_bands=3)
    obs = torch.tensor([[5.0, -3.0, 0.05, 0.0], [0.0, 0.0, 0.0, -1.0], [0.0, 0.0, 9.0, 0.0]])
    act = torch.tensor([[0.4, -0.2], [0.0, 0.0], [0.0, 0.0]])
    x = features(cfg, obs, act)
    assert x.shape == (3, cfg.in_dim) and cfg.in_dim == 2 * 3 + 2
    v = obs[:, 2:4] / cfg.vel_scale
    # layout: [v·band_0 (2), v·band_1 (2), v·band_2 (2), a/act_scale (2)]
    torch.testing.assert_close(x[0, 0:2], v[0])  # slow -> band 0
    torch.testing.assert_close(x[0, 2:6], torch.zeros(4))
    torch.testing.assert_close(x[1, 4:6], v[1])  # speed 1.0 -> band 2
    torch.testing.assert_close(x[2, 4:6], v[2])  # faster than the last centre -> band 2
    torch.testing.assert_close(x[0, 6:8], act[0] / cfg.act_scale)
    # positions never enter the features (translation invariance)
    shifted = obs.clone()
    shifted[:, :2] += 1000.0
    torch.testing.assert_close(features(cfg, shifted, act), x)


def test_param_count():
    c = param_count(CFG)
    z = 2 * CFG.n_bands
    assert CFG.z_dim == z
    assert c["W_u"] == CFG.u_dim * (z + 2)
    assert c["B"] == CFG.n_state * CFG.u_dim
    assert c["W_o"] == 4 * CFG.n_state
    assert c["a_raw"] == CFG.n_state
    assert c["plastic"] == c["W_u"] + c["B"] + c["W_o"]
    assert c["total"] == c["plastic"] + c["a_raw"]
    params = init_params(CFG, 0)
    assert sum(p.numel() for p in params.values()) == c["total"]


def test_config_roundtrip_signature_and_validation():
    d = CFG.to_dict()
    assert d["z_dim"] == CFG.z_dim
    assert NanoSSMConfig.from_dict(d) == CFG
    assert model_signature(NanoSSMConfig.from_dict(d)) == model_signature(CFG)
    assert model_signature(dataclasses.replace(CFG, n_state=16)) != model_signature(CFG)
    assert len(model_signature(CFG)) == 16
    with pytest.raises(ValueError, match="z_dim"):
        NanoSSMConfig.from_dict({**d, "z_dim": 3})
    with pytest.raises(ValueError, match="unknown"):
        NanoSSMConfig.from_dict({**d, "bogus": 1})
    with pytest.raises(ValueError, match="n_state"):
        NanoSSMConfig(n_state=0)
    with pytest.raises(ValueError, match="speed_max"):
        NanoSSMConfig(speed_min=0.5, speed_max=0.1)
    with pytest.raises(ValueError, match="vel_scale"):
        NanoSSMConfig(vel_scale=0.0)
    with pytest.raises(ValueError, match="decay_max"):
        NanoSSMConfig(decay_max=1.0)
    with pytest.raises(ValueError, match="obs_dim"):
        NanoSSMConfig(obs_dim=3)


def test_forward_rejects_bad_shapes():
    obs, act = _data()
    params = init_params(CFG, 0)
    with pytest.raises(ValueError, match="obs"):
        forward(params, CFG, obs[:-1, :, :3], act)
    bad = dict(params, W_o=params["W_o"].unsqueeze(0).repeat(3, 1, 1))
    with pytest.raises(ValueError, match="all shared"):
        forward(bad, CFG, obs[:-1], act)


@pytest.mark.parametrize("ratios", [(1.0, 10.0, 10.0), (1.0, 1.0, 1.0), (5.0, 0.5, 2.0)])
def test_gauge_rebalance_preserves_the_function(ratios):
    params = init_params(CFG, seed=4)
    params["W_o"] = params["W_o"] * 0.2  # start far from the target gauge
    obs, act = _data(S=3, T=60)
    new = rebalance_gauge(params, ratios)
    norms = [float(torch.linalg.matrix_norm(new[n], ord=2)) for n in plastic_names]
    for n, r in zip(norms, ratios, strict=True):
        assert n / norms[0] == pytest.approx(r / ratios[0], rel=1e-5)
    assert torch.equal(new["a_raw"], params["a_raw"])
    a = forward(params, CFG, obs[:-1], act)
    b = forward(new, CFG, obs[:-1], act)
    torch.testing.assert_close(b.delta, a.delta, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(mse_per_step(b, obs), mse_per_step(a, obs), rtol=1e-4, atol=1e-9)
    # Only the scale of the hidden state changes (by α·β).
    scale = float(b.h.abs().amax() / a.h.abs().amax())
    torch.testing.assert_close(b.h, a.h * scale, rtol=1e-5, atol=1e-6)
    # Idempotent: a base already in the gauge stays (numerically) where it is.
    again = rebalance_gauge(new, ratios)
    for n in plastic_names:
        torch.testing.assert_close(again[n], new[n], rtol=1e-5, atol=0.0)


def test_gauge_rebalance_rejects_bad_ratios():
    params = init_params(CFG, seed=0)
    for bad in [(1.0, 0.0, 1.0), (1.0, -2.0, 1.0), (1.0, math.inf, 1.0), (1.0, 2.0)]:
        with pytest.raises(ValueError, match="gauge"):
            rebalance_gauge(params, bad)  # type: ignore[arg-type]
