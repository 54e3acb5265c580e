"""Batched Muon equals torch.optim.Muon applied to each matrix separately."""

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
        torch.testing.assert_close(batched[i], p.detach(), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(buf[i], opt.state[p]["momentum_buffer"], rtol=0, atol=0)


def test_batched_muon_weight_decay_matches():
    torch.manual_seed(1)
    cfg = MuonConfig(lr=0.02, weight_decay=0.1)
    w = torch.randn(2, 3, 4)
    g = torch.randn(2, 3, 4)
    buf = torch.zeros_like(w)
    ref = []
    for i in range(2):
        p = torch.nn.Parameter(w[i].clone())
        opt = torch.optim.Muon([p], lr=0.02, weight_decay=0.1)
        p.grad = g[i].clone()
        opt.step()
        ref.append(p.detach())
    batched_muon_step(w, g, buf, torch.full((2,), 0.02, dtype=torch.float64), cfg)
    torch.testing.assert_close(w, torch.stack(ref), rtol=1e-4, atol=1e-5)


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
