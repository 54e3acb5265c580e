"""The update transaction: bit-exact rollback, checks, history, batching, projection."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch

from ttt.engine import (
    BatchedMuonBackend,
    CanaryAlignmentMin,
    CanaryRobustZ,
    Check,
    CheckOutcome,
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
    canary_probe_dict,
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
    # A post-check that fails unless the step cuts the held-out loss a millionfold.
    checks = ChecksConfig(post=[LossRegression(tol=-0.999999)])
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
        # torch.optim.Muon orthogonalises in bfloat16, the batched backend in float32: the
        # weights agree within half a step (lr 0.05); the decisions exactly.
        torch.testing.assert_close(wb.detach()[i], w.detach(), rtol=0, atol=0.5 * 0.05)
        torch.testing.assert_close(engine.lr[i], eng.lr[0])


# -- canaries, named histories, prepare, directional signal ---------------------------------


def _canary_setup(seed: int = 0, checks: ChecksConfig | None = None, **kw):
    """One session whose canary is a second regression task (per-canary probes, k = 2)."""
    x, y = _problem(seed)
    g = torch.Generator().manual_seed(100 + seed)
    xc = torch.randn(2, 16, 4, generator=g)
    yc = xc @ torch.randn(2, 4, 3, generator=g)
    w, backend, engine = _single(seed, checks=checks, **kw)

    def canary_losses():
        return ((torch.einsum("kti,ji->ktj", xc, w) - yc) ** 2).mean(dim=(1, 2)).unsqueeze(0)

    def loss_fn():
        return ((x[:24] @ w.T - y[:24]) ** 2).mean().reshape(1)

    def probe_fn():
        return {
            "holdout_loss": ((x[24:] @ w.T - y[24:]) ** 2).mean().reshape(1),
            **canary_probe_dict(canary_losses()),
        }

    return w, backend, engine, loss_fn, probe_fn, canary_losses


@dataclass
class _Veto(Check):
    """Test-only post-check that refuses every write (as a canary check would)."""

    kind: ClassVar[str] = "test_veto"
    stage: ClassVar[str] = "post"
    status: ClassVar[str] = "rollback_canary"

    def evaluate(self, pre, post):  # type: ignore[no-untyped-def]
        n = next(iter(post.values())).shape[0]
        nan = torch.full((n,), float("nan"))
        return CheckOutcome(
            self.name, self.status, torch.zeros(n, dtype=torch.bool), nan, nan, ["veto"] * n
        )


def test_canary_fields_in_events_and_history_of_committed_deltas_only():
    checks = ChecksConfig(post=[CanaryRobustZ(min_history=2)])
    w, backend, engine, loss_fn, probe_fn, _ = _canary_setup(checks=checks)
    for t in range(3):
        ev = engine.transact(t=t, loss_fn=loss_fn, probe_fn=probe_fn).events[0]
        assert ev.status == "commit"
        assert ev.canary_before == pytest.approx(ev.probes_pre["canary_loss"])
        assert ev.canary_after == pytest.approx(ev.probes_post["canary_loss"])
        per = [
            ev.probes_post[f"canary_loss.{c}"] - ev.probes_pre[f"canary_loss.{c}"] for c in (0, 1)
        ]
        assert ev.canary_delta == pytest.approx(max(per))
        assert ev.canary_worst == f"canary_loss.{per.index(max(per))}"
        rec = next(c for c in ev.checks if c["name"] == "canary_robust_z")
        assert rec["canary_delta"] == pytest.approx(ev.canary_delta)
        assert (ev.canary_z is None) == (t < 2) and rec.get("canary_z") == ev.canary_z
    hist = engine.histories["canary_delta"]
    assert int(hist.count[0]) == 3
    # A rolled-back update's canary delta never enters the history.
    engine.checks = ChecksConfig(post=[_Veto()])
    ev = engine.transact(t=3, loss_fn=loss_fn, probe_fn=probe_fn).events[0]
    assert ev.status == "rollback_canary" and ev.canary_delta is not None
    assert int(engine.histories["canary_delta"].count[0]) == 3
    assert int(engine.history.count[0]) == 3


def test_canary_robust_z_rolls_back_an_outlier_bit_exactly():
    checks = ChecksConfig(post=[CanaryRobustZ(z_max=3.0, min_history=3, abs_floor=1e-12)])
    w, backend, engine, loss_fn, probe_fn, _ = _canary_setup(checks=checks)
    # A committed history of tiny canary deltas, then a write that damages the canary.
    hist = engine.history_for("canary_delta")
    for v in (1e-6, -1e-6, 2e-6, 0.0):
        hist.push(torch.tensor([v]), torch.tensor([True]))
    engine.lr.fill_(0.1)
    before = w.detach().clone()
    opt_before = _opt_state(backend)
    ev = engine.transact(t=0, loss_fn=loss_fn, probe_fn=probe_fn).events[0]
    assert ev.canary_delta is not None and ev.canary_delta > 1e-3
    assert ev.status == "rollback_canary" and ev.canary_z is not None and ev.canary_z > 3.0
    assert torch.equal(w.detach(), before) and _opt_state(backend) == opt_before


def test_engine_state_dict_keeps_named_histories_and_loads_old_dicts():
    checks = ChecksConfig(post=[CanaryRobustZ()])
    w, backend, engine, loss_fn, probe_fn, _ = _canary_setup(checks=checks)
    for t in range(4):
        engine.transact(t=t, loss_fn=loss_fn, probe_fn=probe_fn)
    sd = engine.state_dict()
    assert {"history.values", "history.count", "history.canary_delta.values"} <= set(sd)
    _, _, fresh, *_ = _canary_setup(checks=checks)
    fresh.load_state_dict(sd)
    assert set(fresh.state_dict()) == set(sd)
    for k, v in fresh.state_dict().items():
        torch.testing.assert_close(v, sd[k], rtol=0, atol=0, equal_nan=True)
    # A state dict written before named histories existed: canary history starts empty.
    old = {k: sd[k] for k in ("lr", "attempts", "history.values", "history.count")}
    _, _, legacy, loss2, probe2, _ = _canary_setup(checks=checks)
    legacy.load_state_dict(old)
    assert set(legacy.histories) == {"grad_norm"}
    ev = legacy.transact(t=0, loss_fn=loss2, probe_fn=probe2).events[0]
    assert ev.status == "commit" and ev.canary_z is None
    assert int(legacy.histories["canary_delta"].count[0]) == 1
    # Engines without a canary write exactly the keys they always wrote.
    _, _, plain = _single()
    assert set(plain.state_dict()) == {"lr", "attempts", "history.values", "history.count"}


def test_prepare_sees_pre_step_weights_and_leaves_the_chunk_gradient_alone():
    x, y = _problem()
    w, backend, engine = _single()
    loss_fn, probe_fn = _fns(w, x, y)
    seen = {}

    class Spy:
        def prepare(self, active, canary_grads=None):
            seen["w"] = w.detach().clone()
            seen["grad_none"] = w.grad is None
            (w**2).sum().backward()  # a careless canary fn that accumulates into .grad
            seen["canary_grads"] = canary_grads

        def __call__(self, before, after, active):
            return dict(after), [{"ok": True}]

    engine.projection = Spy()
    # Reference: the same step without the projection.
    w2, _, engine2 = _single()
    engine2.transact(t=0, loss_fn=_fns(w2, x, y)[0], probe_fn=_fns(w2, x, y)[1])
    before = w.detach().clone()
    ev = engine.transact(t=0, loss_fn=loss_fn, probe_fn=probe_fn).events[0]
    assert torch.equal(seen["w"], before) and seen["grad_none"]
    assert seen["canary_grads"] is None and ev.projection == {"ok": True}
    assert torch.equal(w.detach(), w2.detach())


def test_grad_alignment_signal_and_pre_check():
    from ttt.safety.spfw import canary_grads

    w, backend, engine, loss_fn, probe_fn, canary_losses = _canary_setup()
    engine.canary_grads_fn = lambda: canary_grads(canary_losses(), {"W": w}, batched=False)
    # Expected cosines from the gradients at the pre-step weights.
    (g_chunk,) = torch.autograd.grad(loss_fn().sum(), w)
    g_c = engine.canary_grads_fn()["W"][0]  # (k, 3, 4)
    cos = torch.nn.functional.cosine_similarity(g_c.reshape(2, -1), g_chunk.reshape(1, -1))
    ev = engine.transact(t=0, loss_fn=loss_fn, probe_fn=probe_fn).events[0]
    assert ev.grad_alignment is not None
    assert ev.grad_alignment["cos"] == pytest.approx(cos.tolist(), abs=1e-6)
    assert ev.grad_alignment["min_cos"] == pytest.approx(min(cos.tolist()), abs=1e-6)
    # The pre-check refuses a write that points against a canary more than allowed.
    limit = float(cos.min()) + 0.01
    engine.checks = ChecksConfig(pre=[CanaryAlignmentMin(min_cos=limit)])
    w_before = w.detach().clone()
    ev = engine.transact(t=1, loss_fn=loss_fn, probe_fn=probe_fn).events[0]
    assert ev.status == "rollback_canary" and "points against a canary" in ev.reasons[0]
    assert torch.equal(w.detach(), w_before)
    engine.canary_grads_fn = None
    with pytest.raises(ValueError, match="canary_grads_fn"):
        engine.transact(t=2, loss_fn=loss_fn, probe_fn=probe_fn)


# -- stop_on_train_rise ----------------------------------------------------------------------


def test_stop_on_train_rise_keeps_only_the_steps_that_lower_the_training_loss():
    x, y = _problem(seed=3)
    # Start at the optimum: Muon's fixed-size steps can only overshoot from here.
    true_w = torch.linalg.lstsq(x[:24], y[:24]).solution.T

    def run(stop: bool):
        w = torch.nn.Parameter(true_w.clone() + 0.02)
        backend = TorchOptimBackend.muon({"W": w}, MuonConfig(lr=0.05))
        engine = UpdateEngine(
            backend,
            ChecksConfig(),
            step_size=StepSizeControl(lr=0.05, lr_min=1e-4, lr_max=0.1),
            steps_per_update=8,
            stop_on_train_rise=stop,
        )
        loss_fn, probe_fn = _fns(w, x, y)
        ev = engine.transact(t=0, loss_fn=loss_fn, probe_fn=probe_fn).events[0]
        with torch.no_grad():
            return ev, float(loss_fn()), w.detach().clone()

    plain, plain_loss, _ = run(False)
    stopped, stopped_loss, w_stop = run(True)
    assert plain.steps == 8 and 1 <= stopped.steps < 8
    assert stopped_loss < plain_loss
    # The kept steps are exactly the first `steps` steps of the plain run (undo is exact).
    w = torch.nn.Parameter(true_w.clone() + 0.02)
    opt = MuonConfig(lr=0.05).make([w])
    loss_fn, _ = _fns(w, x, y)
    for _ in range(stopped.steps):
        opt.zero_grad()
        loss_fn().sum().backward()
        opt.step()
    assert torch.equal(w.detach(), w_stop)
