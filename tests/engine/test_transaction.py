"""The update transaction: bit-exact rollback, checks, history, batching, projection."""

from __future__ import annotations

import math

import pytest
import torch

from ttt.engine import (
    BatchedMuonBackend,
    ChecksConfig,
    GateDecision,
    GradHistory,
    GradNormMax,
    GradNormMedianMultiple,
    GradNormRobustZ,
    LossRegression,
    StateNormMax,
    StepSizeControl,
    TorchOptimBackend,
    UpdateEngine,
)
from ttt.optim import MuonConfig


def _problem(seed: int = 0, n: int = 32):
    g = torch.Generator().manual_seed(seed)
    true_w = torch.randn(3, 4, generator=g)
    x = torch.randn(n, 4, generator=g)
    y = x @ true_w.T
    return x, y


def _single(seed: int = 0, checks: ChecksConfig | None = None, **kw):
    torch.manual_seed(seed)
    w = torch.nn.Parameter(torch.randn(3, 4) * 0.1)
    backend = TorchOptimBackend.muon({"W": w}, MuonConfig(lr=0.05))
    engine = UpdateEngine(backend, checks or ChecksConfig(), **kw)
    return w, backend, engine


def _fns(w, x, y):
    def loss_fn():
        return ((x[:24] @ w.T - y[:24]) ** 2).mean().reshape(1)

    def probe_fn():
        return {
            "holdout_loss": ((x[24:] @ w.T - y[24:]) ** 2).mean().reshape(1),
            "max_h": w.abs().max().reshape(1),
        }

    return loss_fn, probe_fn


def _opt_state(backend: TorchOptimBackend):
    return {k: v.clone() for k, v in backend.optimizer_state().items()}


def test_commit_lowers_holdout_loss_and_records_event():
    x, y = _problem()
    w, backend, engine = _single(checks=ChecksConfig(post=[LossRegression(tol=0.0)]))
    loss_fn, probe_fn = _fns(w, x, y)
    res = engine.transact(t=7, loss_fn=loss_fn, probe_fn=probe_fn)
    ev = res.events[0]
    assert ev.status == "commit" and bool(res.committed[0])
    assert ev.t == 7 and ev.index == 0
    assert ev.post_loss is not None and ev.pre_loss is not None
    assert ev.post_loss < ev.pre_loss
    assert ev.update_norm is not None and ev.update_norm > 0
    assert ev.checks[0]["name"] == "loss_regression" and ev.checks[0]["passed"]


def test_rollback_restores_weights_and_optimizer_state_bit_exactly():
    x, y = _problem()
    # Post-check that always fails (tolerance -1 => post must be <= 0).
    checks = ChecksConfig(post=[LossRegression(tol=-1.0)])
    w, backend, engine = _single(checks=checks)
    loss_fn, probe_fn = _fns(w, x, y)
    # First: a rollback before any momentum buffer exists must leave no buffer behind.
    before_w = w.detach().clone()
    ev = engine.transact(t=0, loss_fn=loss_fn, probe_fn=probe_fn).events[0]
    assert ev.status == "rollback_loss_regression"
    assert torch.equal(w.detach(), before_w)
    assert backend.optimizer_state() == {}
    # Build momentum with committed steps, then roll back: buffer restored exactly.
    engine.checks = ChecksConfig()
    for t in range(3):
        engine.transact(t=t, loss_fn=loss_fn, probe_fn=probe_fn)
    w_mid = w.detach().clone()
    st_mid = _opt_state(backend)
    engine.checks = checks
    ev = engine.transact(t=9, loss_fn=loss_fn, probe_fn=probe_fn).events[0]
    assert ev.status == "rollback_loss_regression"
    assert "exceeded pre_loss" in ev.reasons[0]
    assert torch.equal(w.detach(), w_mid)
    st_after = _opt_state(backend)
    assert st_after.keys() == st_mid.keys()
    for k in st_mid:
        assert torch.equal(st_after[k], st_mid[k])


def test_pre_check_failure_skips_step_and_has_no_post_loss():
    x, y = _problem()
    w, backend, engine = _single(checks=ChecksConfig(pre=[GradNormMax(max_norm=1e-9)]))
    loss_fn, probe_fn = _fns(w, x, y)
    before = w.detach().clone()
    ev = engine.transact(t=3, loss_fn=loss_fn, probe_fn=probe_fn).events[0]
    assert ev.status == "rollback_grad_norm"
    assert ev.post_loss is None and ev.update_norm is None
    assert "grad_norm_max" in ev.reasons[0]
    assert torch.equal(w.detach(), before)


def test_gate_block_means_no_write():
    x, y = _problem()
    w, backend, engine = _single()
    loss_fn, probe_fn = _fns(w, x, y)
    before = w.detach().clone()
    gate = GateDecision(allowed=torch.tensor([False]), reasons=[["instruction_override"]])
    ev = engine.transact(t=0, loss_fn=loss_fn, probe_fn=probe_fn, gate=gate).events[0]
    assert ev.status == "blocked_gate" and ev.reasons == ["instruction_override"]
    assert torch.equal(w.detach(), before)


def test_nonfinite_gradient_is_rolled_back():
    x, y = _problem()
    w, backend, engine = _single()
    before = w.detach().clone()

    def loss_fn():
        return (w.sum() * float("nan")).reshape(1)

    ev = engine.transact(t=0, loss_fn=loss_fn).events[0]
    assert ev.status == "rollback_grad_norm" and "non-finite" in ev.reasons[0]
    assert torch.equal(w.detach(), before)


def test_state_norm_post_check():
    x, y = _problem()
    w, backend, engine = _single(checks=ChecksConfig(post=[StateNormMax(max_abs=1e-6)]))
    loss_fn, probe_fn = _fns(w, x, y)
    ev = engine.transact(t=0, loss_fn=loss_fn, probe_fn=probe_fn).events[0]
    assert ev.status == "rollback_state_norm"
    assert "state_norm_max" in ev.reasons[0]


def test_robust_z_uses_only_committed_history_and_never_divides_by_zero():
    h = GradHistory.empty(1, capacity=16)
    for _ in range(10):
        h.push(torch.tensor([2.0]), torch.tensor([True]))
    # Rolled-back norms must not enter.
    h.push(torch.tensor([1e9]), torch.tensor([False]))
    med, mad = h.median_mad()
    assert float(med[0]) == 2.0 and float(mad[0]) == 0.0
    check = GradNormRobustZ(z_max=6.0, min_history=8, rel_floor=0.05)
    # MAD is 0, so the scale is floored at rel_floor * median = 0.1: z(3.0) = 10 > 6.
    out = check.evaluate({"grad_norm": torch.tensor([3.0])}, h)
    assert out.score is not None and math.isclose(float(out.score[0]), 10.0)
    # value and threshold are both grad norms: limit = median + z_max * scale = 2 + 6 * 0.1
    assert float(out.value[0]) == 3.0 and math.isclose(float(out.threshold[0]), 2.6)
    assert out.record(0)["score"] == pytest.approx(10.0)
    assert not bool(out.passed[0])
    assert "robust z" in (out.reasons[0] or "")
    ok = check.evaluate({"grad_norm": torch.tensor([2.05])}, h)
    assert bool(ok.passed[0])


def test_relative_checks_wait_for_history():
    h = GradHistory.empty(1)
    for c in (GradNormRobustZ(min_history=4), GradNormMedianMultiple(k=2, min_history=4)):
        assert bool(c.evaluate({"grad_norm": torch.tensor([1e6])}, h).passed[0])
    for _ in range(4):
        h.push(torch.tensor([1.0]), torch.tensor([True]))
    out = GradNormMedianMultiple(k=2, min_history=4).evaluate({"grad_norm": torch.tensor([3.0])}, h)
    assert not bool(out.passed[0]) and float(out.threshold[0]) == 2.0


def test_step_size_control_backs_off_on_regression_and_grows_on_commit():
    ctl = StepSizeControl(lr=0.01, lr_min=0.001, lr_max=0.02, backoff=0.5, growth=1.5)
    lr = torch.tensor([0.01, 0.01, 0.01], dtype=torch.float64)
    out = ctl.next_lr(lr, torch.tensor([True, False, False]), torch.tensor([False, True, False]))
    assert out.tolist() == [0.015, 0.005, 0.01]
    with pytest.raises(ValueError, match="lr_min"):
        StepSizeControl(lr=0.5, lr_max=0.1)


def test_checks_config_round_trip_and_errors():
    cfg = ChecksConfig(
        pre=[GradNormMax(5.0), GradNormRobustZ(z_max=4.0)],
        post=[LossRegression(tol=0.1), StateNormMax(1e3)],
    )
    again = ChecksConfig.from_dict(cfg.to_dict())
    assert again.to_dict() == cfg.to_dict()
    with pytest.raises(ValueError, match="unknown check kind"):
        ChecksConfig.from_dict({"pre": [{"kind": "nope"}]})
    with pytest.raises(ValueError, match="post-check"):
        ChecksConfig.from_dict({"pre": [{"kind": "loss_regression"}]})


def test_projection_hook_constrains_the_weight_change():
    x, y = _problem()
    w, backend, engine = _single()

    def halve(before, after, active):
        out = {n: before[n] + 0.5 * (after[n] - before[n]) for n in after}
        return out, [{"fraction_removed": 0.5}]

    engine.projection = halve
    loss_fn, probe_fn = _fns(w, x, y)
    before = w.detach().clone()
    # Same step without projection, for reference.
    w2, _, engine2 = _single()
    engine2.transact(t=0, loss_fn=_fns(w2, x, y)[0], probe_fn=_fns(w2, x, y)[1])
    ev = engine.transact(t=0, loss_fn=loss_fn, probe_fn=probe_fn).events[0]
    assert ev.projection == {"fraction_removed": 0.5}
    torch.testing.assert_close(w.detach() - before, 0.5 * (w2.detach() - before))


def test_engine_state_round_trip():
    x, y = _problem()
    w, backend, engine = _single(checks=ChecksConfig(pre=[GradNormRobustZ()]))
    loss_fn, probe_fn = _fns(w, x, y)
    for t in range(5):
        engine.transact(t=t, loss_fn=loss_fn, probe_fn=probe_fn)
    sd = engine.state_dict()
    _, _, fresh = _single()
    fresh.load_state_dict(sd)
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, sd[k]) or (torch.isnan(v) == torch.isnan(sd[k])).all()


def test_batched_engine_matches_single_sessions():
    """S sessions in one batched transaction == S single-session transactions."""
    s = 4
    probs = [_problem(seed=i) for i in range(s)]
    checks = ChecksConfig(pre=[GradNormRobustZ(min_history=2)], post=[LossRegression(tol=0.0)])
    ctl = StepSizeControl(lr=0.05, lr_min=1e-4, lr_max=0.1, backoff=0.5, growth=1.2)
    torch.manual_seed(0)
    w0 = torch.randn(s, 3, 4) * 0.1
    wb = torch.nn.Parameter(w0.clone())
    backend = BatchedMuonBackend({"W": wb}, MuonConfig(lr=0.05))
    engine = UpdateEngine(backend, checks, step_size=ctl)
    xs = torch.stack([p[0] for p in probs])  # (S, n, 4)
    ys = torch.stack([p[1] for p in probs])

    def loss_fn():
        return ((xs[:, :24] @ wb.mT - ys[:, :24]) ** 2).mean(dim=(1, 2))

    def probe_fn():
        return {"holdout_loss": ((xs[:, 24:] @ wb.mT - ys[:, 24:]) ** 2).mean(dim=(1, 2))}

    batched_status = []
    for t in range(12):
        res = engine.transact(t=t, loss_fn=loss_fn, probe_fn=probe_fn)
        batched_status.append([e.status for e in res.events])

    for i in range(s):
        w = torch.nn.Parameter(w0[i].clone())
        eng = UpdateEngine(
            TorchOptimBackend.muon({"W": w}, MuonConfig(lr=0.05)), checks, step_size=ctl
        )
        lf, pf = _fns(w, *probs[i])
        statuses = [eng.transact(t=t, loss_fn=lf, probe_fn=pf).events[0].status for t in range(12)]
        assert statuses == [row[i] for row in batched_status]
        torch.testing.assert_close(wb.detach()[i], w.detach(), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(engine.lr[i], eng.lr[0])
