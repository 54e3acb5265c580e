"""SPFW: the projection is the exact QP solution, and the applied update obeys it."""

from __future__ import annotations

import itertools

import pytest
import torch

from ttt.engine import (
    BatchedMuonBackend,
    ChecksConfig,
    TorchOptimBackend,
    UpdateEngine,
    flatten_canary_grads,
)
from ttt.optim import MuonConfig
from ttt.safety.spfw import (
    SpfwConfig,
    SpfwProjection,
    canary_grads,
    project_halfspaces,
    project_nullspace,
)

F64 = torch.float64


def _brute_force(d: torch.Tensor, g: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """min ||x - d|| s.t. g x <= s by trying every active set (small k only)."""
    k = g.shape[0]
    best: tuple[float, torch.Tensor] | None = None
    for r in range(k + 1):
        for subset in itertools.combinations(range(k), r):
            a = list(subset)
            if a:
                ga = g[a]
                gram = ga @ ga.T
                if torch.linalg.matrix_rank(gram) < len(a):
                    continue
                lam = torch.linalg.solve(gram, ga @ d - s[a])
                x = d - ga.T @ lam
            else:
                x = d.clone()
            if bool((g @ x - s <= 1e-9).all()):
                dist = float((x - d).norm())
                if best is None or dist < best[0] - 1e-12:
                    best = (dist, x)
    assert best is not None
    return best[1]


def _assert_kkt(d, g, s, x, lam, tol=1e-8):
    """Feasible, λ >= 0, stationary (x - d + gᵀλ = 0), complementary slackness."""
    scale = 1.0 + float(d.norm()) * float(g.norm())
    assert float((g @ x - s).max()) <= tol * scale
    assert float(lam.min()) >= -tol
    torch.testing.assert_close(x - d + g.T @ lam, torch.zeros_like(d), rtol=0, atol=tol * scale)
    assert float((lam * (g @ x - s)).abs().max()) <= tol * scale


def test_halfspace_projection_matches_brute_force_and_kkt():
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        n = int(torch.randint(2, 7, (), generator=gen))
        k = int(torch.randint(1, 6, (), generator=gen))  # k > n: rank-deficient on purpose
        g = torch.randn(1, k, n, generator=gen, dtype=F64)
        d = 3 * torch.randn(1, n, generator=gen, dtype=F64)
        s = 0.5 * torch.rand(1, k, generator=gen, dtype=F64)
        x, info = project_halfspaces(d, g, s)
        assert bool(info.feasible[0]) and bool(info.converged[0])
        torch.testing.assert_close(x[0], _brute_force(d[0], g[0], s[0]), rtol=0, atol=1e-9)
        _assert_kkt(d[0], g[0], s[0], x[0], info.multipliers[0])


def test_batched_sessions_are_independent_and_satisfied_sessions_untouched():
    gen = torch.Generator().manual_seed(1)
    s_count, k, n = 6, 4, 30
    g = torch.randn(s_count, k, n, generator=gen, dtype=F64)
    d = torch.randn(s_count, n, generator=gen, dtype=F64)
    d[2] = -g[2].sum(0)  # lowers every canary: nothing to do
    x, info = project_halfspaces(d, g, 0.0)
    for i in range(s_count):
        xi, _ = project_halfspaces(d[i : i + 1], g[i : i + 1], 0.0)
        torch.testing.assert_close(x[i], xi[0], rtol=0, atol=1e-12)
    assert torch.equal(x[2], d[2]) and not bool(info.changed[2])
    assert int(info.iterations[2]) == 0
    assert bool((torch.einsum("skn,sn->sk", g, x) <= 1e-10).all())


def test_slack_allows_a_bounded_rise():
    g = torch.tensor([[[1.0, 0.0]]], dtype=F64)
    d = torch.tensor([[2.0, 1.0]], dtype=F64)
    x, _ = project_halfspaces(d, g, torch.tensor([[0.5]], dtype=F64))
    torch.testing.assert_close(x, torch.tensor([[0.5, 1.0]], dtype=F64))


def test_zero_and_duplicate_canary_gradients():
    gen = torch.Generator().manual_seed(2)
    n = 8
    g1 = torch.randn(n, generator=gen, dtype=F64)
    g2 = torch.randn(n, generator=gen, dtype=F64)
    d = 2 * g1 + 2 * g2  # raises both canaries
    single, _ = project_halfspaces(d[None], torch.stack([g1, g2])[None], 0.0)
    # Exact duplicates, a near-duplicate and a zero gradient change nothing.
    many = torch.stack([g1, g2, g1, g2 * (1 + 1e-13), torch.zeros(n, dtype=F64), g1])[None]
    x, info = project_halfspaces(d[None], many, 0.0)
    assert bool(info.feasible[0]) and int(info.rank[0]) == 2
    torch.testing.assert_close(x, single, rtol=0, atol=1e-10)
    assert torch.isfinite(x).all() and torch.isfinite(info.multipliers).all()
    # Only a zero gradient: nothing to constrain (0 <= slack), Δ unchanged.
    z, zi = project_halfspaces(d[None], torch.zeros(1, 3, n, dtype=F64), 0.0)
    assert torch.equal(z, d[None]) and int(zi.rank[0]) == 0
    # Opposite duplicates (g and -g): the hyperplane g·x = 0.
    opp, _ = project_halfspaces(d[None], torch.stack([g1, -g1])[None], 0.0)
    expect = d - (g1 @ d) / (g1 @ g1) * g1
    torch.testing.assert_close(opp[0], expect, rtol=0, atol=1e-12)


def test_infeasible_system_is_reported_not_guessed():
    g = torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]], dtype=F64)
    d = torch.tensor([[1.0, 1.0]], dtype=F64)
    # x0 <= -1 and -x0 <= -1 have no common point.
    x, info = project_halfspaces(d, g, torch.tensor([[-1.0, -1.0]], dtype=F64))
    assert not bool(info.feasible[0])
    assert torch.equal(x, torch.zeros_like(x))
    # A zero gradient with a negative slack (0 <= -1) is infeasible too.
    _, info = project_halfspaces(d, torch.zeros(1, 1, 2, dtype=F64), -1.0)
    assert not bool(info.feasible[0])


def test_nullspace_removes_the_span_only():
    gen = torch.Generator().manual_seed(3)
    n = 12
    g = torch.randn(2, 3, n, generator=gen, dtype=F64)
    g[1, 2] = g[1, 0] + g[1, 1]  # rank 2
    d = torch.randn(2, n, generator=gen, dtype=F64)
    x, info = project_nullspace(d, g)
    assert info.rank.tolist() == [3, 2]
    torch.testing.assert_close(
        torch.einsum("skn,sn->sk", g, x), torch.zeros(2, 3, dtype=F64), rtol=0, atol=1e-12
    )
    # The removed part lies in span{g}: least squares in that span reproduces it exactly.
    for i in range(2):
        removed = d[i] - x[i]
        coef = torch.linalg.lstsq(g[i].T, removed[:, None]).solution
        torch.testing.assert_close(g[i].T @ coef[:, 0], removed, rtol=0, atol=1e-10)
    zero, _ = project_nullspace(d, torch.zeros(2, 2, n, dtype=F64))
    assert torch.equal(zero, d)


def test_config_validation():
    with pytest.raises(ValueError, match="mode"):
        SpfwConfig(mode="orthogonal")
    with pytest.raises(ValueError, match="slack"):
        SpfwConfig(slack=-0.1)
    with pytest.raises(ValueError, match="relative_slack"):
        SpfwConfig(relative_slack=float("nan"))
    with pytest.raises(ValueError, match=r"spfw: unknown field\(s\)"):
        SpfwConfig.from_dict({"mode": "halfspace", "bogus": 1})
    assert SpfwConfig.from_dict(SpfwConfig(mode="nullspace").to_dict()).mode == "nullspace"
    with pytest.raises(ValueError, match="canary_losses_fn"):
        SpfwProjection(SpfwConfig(relative_slack=0.1), lambda: {})


# -- the applied update, through the engine --------------------------------------------------


def _data(seed: int, k: int = 3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(40, 4, generator=g)
    y = x @ torch.randn(4, 3, generator=g)  # training task
    xc = torch.randn(k, 16, 4, generator=g)
    yc = xc @ torch.randn(k, 4, 3, generator=g)  # k unrelated canary tasks
    return x, y, xc, yc


def _canary_losses(w: torch.Tensor, xc, yc) -> torch.Tensor:
    """(S, k): w is (3, 4) (one session) or (S, 3, 4)."""
    ws = w if w.dim() == 3 else w.unsqueeze(0)
    pred = torch.einsum("kti,sji->sktj", xc, ws)  # (S, k, T, 3)
    return (pred - yc.unsqueeze(0)).pow(2).mean(dim=(2, 3))


def _check_applied(g_flat, delta, slack):
    """g_c · Δ <= slack + 1e-9 for the update that is really in the weights."""
    fo = torch.einsum("skn,sn->sk", g_flat, delta)
    assert float((fo - slack).max()) <= 1e-9, fo


@pytest.mark.parametrize("mode", ["halfspace", "nullspace"])
def test_applied_update_obeys_the_constraint_torch_muon(mode):
    x, y, xc, yc = _data(0)
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(3, 4) * 0.3)
    backend = TorchOptimBackend.muon({"W": w}, MuonConfig(lr=0.05))
    assert isinstance(backend.optimizer, torch.optim.Muon)

    def grads_fn():
        return canary_grads(_canary_losses(w, xc, yc), {"W": w}, batched=False)

    slack = 0.0 if mode == "nullspace" else 0.002
    proj = SpfwProjection(SpfwConfig(mode=mode, slack=slack), grads_fn)
    engine = UpdateEngine(backend, ChecksConfig(), projection=proj)
    ref_w = torch.nn.Parameter(w.detach().clone())
    ref = UpdateEngine(TorchOptimBackend.muon({"W": ref_w}, MuonConfig(lr=0.05)), ChecksConfig())
    saw_binding = False
    for t in range(6):
        before = w.detach().clone()
        g_flat = flatten_canary_grads(grads_fn(), {"W": w}, 1)  # (1, k, n) at pre-step W
        ev = engine.transact(t=t, loss_fn=lambda: ((x @ w.T - y) ** 2).mean().reshape(1)).events[0]
        assert ev.status == "commit"
        delta = (w.detach() - before).double().reshape(1, -1)
        _check_applied(g_flat, delta, slack)
        p = ev.projection
        assert p is not None and p["mode"] == mode and p["n_canaries"] == 3
        assert p["violations_after"] == 0 and p["max_violation_after"] == 0.0
        assert ev.update_norm == pytest.approx(p["norm_after"], rel=1e-6)
        saw_binding |= p["violations_before"] > 0
        if t == 0:
            # Hard negative: the same Muon step without SPFW raises a canary (first order).
            ref_before = ref_w.detach().clone()
            ref.transact(t=0, loss_fn=lambda: ((x @ ref_w.T - y) ** 2).mean().reshape(1))
            raw = (ref_w.detach() - ref_before).double().reshape(1, -1)
            assert float(torch.einsum("skn,sn->sk", g_flat, raw).max()) > slack + 1e-3
            assert 0 < p["fraction_removed"] < 1
    assert saw_binding


@pytest.mark.parametrize("mode", ["halfspace", "nullspace"])
def test_applied_update_obeys_the_constraint_batched_muon(mode):
    s = 5
    data = [_data(i) for i in range(s)]
    xs = torch.stack([d[0] for d in data])
    ys = torch.stack([d[1] for d in data])
    xc, yc = data[0][2], data[0][3]  # the same canaries for every session
    torch.manual_seed(1)
    w = torch.nn.Parameter(torch.randn(s, 3, 4) * 0.3)
    backend = BatchedMuonBackend({"W": w}, MuonConfig(lr=0.05))

    def grads_fn():
        return canary_grads(_canary_losses(w, xc, yc), {"W": w}, batched=True)

    proj = SpfwProjection(SpfwConfig(mode=mode, slack=0.0), grads_fn)
    engine = UpdateEngine(backend, ChecksConfig(), projection=proj)

    def loss_fn():
        return ((xs @ w.mT - ys) ** 2).mean(dim=(1, 2))

    binding = 0
    for t in range(5):
        before = w.detach().clone()
        g_flat = flatten_canary_grads(grads_fn(), {"W": w}, s)  # (S, k, n)
        res = engine.transact(t=t, loss_fn=loss_fn)
        assert bool(res.committed.all())
        delta = (w.detach() - before).double().reshape(s, -1)
        _check_applied(g_flat, delta, 0.0)
        binding += sum(e.projection["violations_before"] > 0 for e in res.events)
        assert all(e.projection["violations_after"] == 0 for e in res.events)
    assert binding > 0


def test_gated_sessions_are_not_projected_and_unprepared_projection_fails():
    from ttt.engine import GateDecision

    x, y, xc, yc = _data(0)
    s = 2
    w = torch.nn.Parameter(torch.randn(s, 3, 4) * 0.3)
    backend = BatchedMuonBackend({"W": w}, MuonConfig(lr=0.05))
    proj = SpfwProjection(
        SpfwConfig(),
        lambda: canary_grads(_canary_losses(w, xc, yc), {"W": w}, batched=True),
    )
    engine = UpdateEngine(backend, ChecksConfig(), projection=proj)
    before = w.detach().clone()
    gate = GateDecision(allowed=torch.tensor([True, False]), reasons=[[], ["blocked"]])
    res = engine.transact(t=0, loss_fn=lambda: ((x @ w.mT - y) ** 2).mean(dim=(1, 2)), gate=gate)
    assert res.events[0].projection is not None and res.events[1].projection is None
    assert torch.equal(w.detach()[1], before[1])
    with pytest.raises(RuntimeError, match="prepare"):
        proj({"W": before}, {"W": before}, torch.tensor([True, True]))


def test_relative_slack_uses_pre_step_canary_losses():
    x, y, xc, yc = _data(0)
    w = torch.nn.Parameter(torch.randn(3, 4) * 0.3)
    backend = TorchOptimBackend.muon({"W": w}, MuonConfig(lr=0.05))
    losses_fn = lambda: _canary_losses(w, xc, yc)  # noqa: E731
    proj = SpfwProjection(
        SpfwConfig(slack=0.0, relative_slack=0.01),
        lambda: canary_grads(losses_fn(), {"W": w}, batched=False),
        canary_losses_fn=losses_fn,
    )
    engine = UpdateEngine(backend, ChecksConfig(), projection=proj)
    pre = losses_fn().detach().double()
    ev = engine.transact(t=0, loss_fn=lambda: ((x @ w.T - y) ** 2).mean().reshape(1)).events[0]
    torch.testing.assert_close(torch.tensor(ev.projection["slack"], dtype=F64), 0.01 * pre[0])


def test_canary_grads_helper_matches_autograd_per_session():
    xc = torch.randn(2, 5, 4)
    yc = torch.randn(2, 5, 3)
    w = torch.randn(3, 3, 4, requires_grad=True)
    got = canary_grads(_canary_losses(w, xc, yc), {"W": w}, batched=True)["W"]
    assert got.shape == (3, 2, 3, 4)
    for i in range(3):
        wi = w.detach()[i].clone().requires_grad_(True)
        for c in range(2):
            (gi,) = torch.autograd.grad(_canary_losses(wi, xc, yc)[0, c], wi)
            torch.testing.assert_close(got[i, c], gi)
    with pytest.raises(ValueError, match="one session"):
        canary_grads(torch.zeros(2, 1), {"W": w}, batched=False)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_rounding_to_the_weight_dtype_never_breaks_the_constraint(dtype):
    """Many random binding problems: the applied Δ (after rounding) obeys g·Δ <= slack."""
    gen = torch.Generator().manual_seed(4)
    s, k, shape = 16, 4, (6, 5)
    before = (torch.randn(s, *shape, generator=gen) * 3).to(dtype)
    step = (torch.randn(s, *shape, generator=gen) * 0.05).to(dtype)
    after = (before.double() + step.double()).to(dtype)
    grads = torch.randn(s, k, *shape, generator=gen, dtype=F64)
    proj = SpfwProjection(SpfwConfig(slack=0.0))
    proj.prepare(torch.ones(s, dtype=torch.bool), canary_grads={"W": grads})
    new, stats = proj({"W": before}, {"W": after}, torch.ones(s, dtype=torch.bool))
    assert new["W"].dtype == dtype
    applied = (new["W"].double() - before.double()).reshape(s, -1)
    g = grads.reshape(s, k, -1)
    assert float(torch.einsum("skn,sn->sk", g, applied).max()) <= 0.0
    assert all(st["violations_after"] == 0 for st in stats)
    assert sum(st["violations_before"] > 0 for st in stats) > s // 2
    # Exact solutions are kept wherever rounding allows (no blanket fallback).
    assert sum(st["fell_back_to_no_change"] for st in stats) <= 1
    # A re-solved session reports the re-solve that produced its Δ'.
    if dtype == torch.bfloat16:
        assert any(st["rounding_retry"] for st in stats)
    for st in stats:
        if st["rounding_retry"] and not st["fell_back_to_no_change"]:
            assert st["feasible"] and st["converged"] and st["iterations"] >= 1
