"""Batched Muon equals torch.optim.Muon applied to each matrix separately.

The batched Newton-Schulz runs in float32 where torch.optim.Muon uses bfloat16, so the
steps agree to bfloat16 precision (a few parts in a thousand of the step), the momentum
buffers exactly; and each matrix of a batch gets exactly the bits it gets alone.
"""

import pytest
import torch

from ttt.optim import MuonConfig, batched_muon_step, split_params


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5), (32, 16)])
@pytest.mark.parametrize("nesterov", [True, False])
def test_batched_muon_matches_torch_muon(shape, nesterov):
    torch.manual_seed(0)
    s = 5
    cfg = MuonConfig(lr=0.03, momentum=0.9, nesterov=nesterov)
    w0 = torch.randn(s, *shape)
    lrs = torch.tensor([0.03, 0.01, 0.05, 0.0, 0.02], dtype=torch.float64)
    grads = [torch.randn(s, *shape) for _ in range(3)]

    batched = w0.clone()
    buf = torch.zeros_like(batched)
    for g in grads:
        batched_muon_step(batched, g, buf, lrs, cfg)

    for i in range(s):
        p = torch.nn.Parameter(w0[i].clone())
        opt = torch.optim.Muon(
            [p], lr=float(lrs[i]), momentum=0.9, nesterov=nesterov, weight_decay=0.0
        )
        for g in grads:
            p.grad = g[i].clone()
            opt.step()
        step = float(lrs[i]) * max(1.0, shape[0] / shape[1]) ** 0.5  # one step's size
        torch.testing.assert_close(batched[i], p.detach(), rtol=0, atol=3 * 3e-2 * step + 1e-7)
        torch.testing.assert_close(buf[i], opt.state[p]["momentum_buffer"], rtol=0, atol=0)
        # A wrong lr scale or a missing orthogonalisation would be far off.
        if lrs[i] > 0:
            moved = (batched[i] - w0[i]).abs().max()
            assert moved > 0.3 * step


@pytest.mark.parametrize("shape", [(16, 26), (32, 16), (4, 32)])
def test_each_matrix_of_a_batch_gets_the_bits_it_gets_alone(shape):
    g = torch.Generator().manual_seed(3)
    cfg = MuonConfig(lr=0.02, momentum=0.9)
    w0, grad = torch.randn(7, *shape, generator=g), torch.randn(7, *shape, generator=g)
    buf0 = torch.randn(7, *shape, generator=g)
    lrs = torch.linspace(0.01, 0.05, 7, dtype=torch.float64)
    w, buf = w0.clone(), buf0.clone()
    batched_muon_step(w, grad, buf, lrs, cfg)
    for i in range(7):
        wi, bi = w0[i : i + 1].clone(), buf0[i : i + 1].clone()
        batched_muon_step(wi, grad[i : i + 1], bi, lrs[i : i + 1], cfg)
        assert torch.equal(w[i], wi[0]) and torch.equal(buf[i], bi[0])


def test_batched_muon_weight_decay_matches():
    torch.manual_seed(1)
    cfg = MuonConfig(lr=0.02, weight_decay=0.5)
    w = torch.randn(2, 3, 4)
    g = torch.randn(2, 3, 4)
    buf = torch.zeros_like(w)
    ref = []
    for i in range(2):
        p = torch.nn.Parameter(w[i].clone())
        opt = torch.optim.Muon([p], lr=0.02, weight_decay=0.5)
        p.grad = g[i].clone()
        opt.step()
        ref.append(p.detach())
    batched_muon_step(w, g, buf, torch.full((2,), 0.02, dtype=torch.float64), cfg)
    torch.testing.assert_close(w, torch.stack(ref), rtol=0, atol=3 * 3e-2 * 0.02)
    # The decay (lr * wd = 1% of each weight) is well above that tolerance.
    assert (w - torch.stack(ref) / (1 - 0.02 * 0.5)).abs().max() > 5 * 3 * 3e-2 * 0.02


def test_split_params_groups_2d_to_muon():
    a = torch.nn.Parameter(torch.zeros(3, 4))
    b = torch.nn.Parameter(torch.zeros(4))
    emb = torch.nn.Parameter(torch.zeros(10, 4))
    muon, adamw = split_params(
        [("w", a), ("bias", b), ("embed.weight", emb)], adamw_names=["embed"]
    )
    assert muon == [a]
    assert adamw == [b, emb]


def test_muon_config_validation():
    with pytest.raises(ValueError, match="momentum"):
        MuonConfig(momentum=1.5)
    with pytest.raises(ValueError, match="lr"):
        MuonConfig(lr=float("nan"))
