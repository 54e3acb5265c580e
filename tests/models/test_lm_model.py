"""TinyLm: the scan equals the step recurrence on long sequences, stateful generation equals
full recompute, the context net is the only plastic part."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ttt.models.tinylm import TinyLm, TinyLmConfig, scan, scan_reference


def _randomise(model: TinyLm, seed: int = 1) -> TinyLm:
    """Zero-initialised heads/projections would make every logit equal: perturb all weights."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g))
    return model


def tiny(backbone: str = "ssm", **kw) -> TinyLm:
    cfg = TinyLmConfig(vocab_size=97, d_model=24, n_layers=2, backbone=backbone, **kw)
    return _randomise(TinyLm(cfg, seed=0)).eval()


# ---------------------------------------------------------------------------- scan


@pytest.mark.parametrize("T", [1, 3, 16, 17, 100, 2048])
def test_scan_equals_step_recurrence_float64(T):
    g = torch.Generator().manual_seed(T)
    a = torch.rand(2, T, 8, generator=g, dtype=torch.float64)
    b = torch.randn(2, T, 8, generator=g, dtype=torch.float64)
    h0 = torch.randn(2, 8, generator=g, dtype=torch.float64)
    for init in (None, h0):
        ref = scan_reference(a, b, init)
        torch.testing.assert_close(scan(a, b, init), ref, rtol=0, atol=1e-12)


def test_scan_long_memory_2048_tokens_float32():
    # Decays near 1 (memory of thousands of tokens) and near 0, mixed per channel.
    g = torch.Generator().manual_seed(0)
    T = 2048
    a = torch.cat(
        [
            1 - 1e-4 * torch.rand(1, T, 8, generator=g),
            torch.rand(1, T, 8, generator=g) * 1e-3,
            torch.rand(1, T, 8, generator=g),
        ],
        dim=-1,
    )
    b = torch.randn(1, T, 24, generator=g)
    h = scan(a, b)
    ref = scan_reference(a.double(), b.double())
    # |h| grows to ~100 in the long-memory channels: the error is float32 rounding, on the
    # order of the step-by-step float32 recurrence's own error.
    err = (h.double() - ref).abs().max()
    assert err <= 5e-6 * ref.abs().max()
    step32 = scan_reference(a, b).double()
    assert err <= 4 * (step32 - ref).abs().max() + 1e-6
    # The long-memory channels still carry the whole sum at the end (no underflow to 0).
    assert h[0, -1, :8].abs().min() > 0


def test_ssm_state_does_not_vanish_after_a_few_tokens():
    # The original closed form divided by decaying powers: its state was exactly 0 after 5
    # tokens. Here the model's SSM state stays non-zero and matches stepping for 2048 tokens.
    model = tiny()
    tokens = torch.randint(0, 97, (1, 2048), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        _, state = model(tokens)
        s = model.init_state(1)
        for t in range(2048):
            _, s = model.step(tokens[:, t], s)
    assert bool((state != 0).any(dim=-1).all())
    torch.testing.assert_close(state, s, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------- generation


@pytest.mark.parametrize("backbone", ["ssm", "gru"])
def test_incremental_equals_full_recompute(backbone):
    model = tiny(backbone)
    tokens = torch.randint(0, 97, (3, 64), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full, full_state = model(tokens)  # (B, T, V)
        s = model.init_state(3)
        steps = []
        for t in range(tokens.shape[1]):
            logits, s = model.step(tokens[:, t], s)
            steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, dim=1), full, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(s, full_state, rtol=1e-4, atol=1e-5)
    assert torch.equal(torch.stack(steps, 1).argmax(-1), full.argmax(-1))


@pytest.mark.parametrize("backbone", ["ssm", "gru"])
def test_chunked_forward_with_carried_state_equals_one_pass(backbone):
    model = tiny(backbone)
    tokens = torch.randint(0, 97, (2, 90), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full, _ = model(tokens)
        a, s = model(tokens[:, :37])
        b, _ = model(tokens[:, 37:], s)
    torch.testing.assert_close(torch.cat([a, b], dim=1), full, rtol=1e-4, atol=1e-5)


def test_generate_uses_one_step_per_token():
    from ttt.models.generate import generate
    from ttt.models.tiny import TinyLmBackend
    from ttt.models.tokenizer import BpeTokenizer

    tok = BpeTokenizer.train(["abc def ghi " * 50], vocab_size=270)
    cfg = TinyLmConfig(vocab_size=tok.vocab_size, d_model=16, n_layers=1)
    model = _randomise(TinyLm(cfg, seed=0))
    calls = {"step": 0, "forward": 0}
    orig_step, orig_fwd = model.step, model.forward

    def counting_step(*a, **k):
        calls["step"] += 1
        return orig_step(*a, **k)

    def counting_forward(*a, **k):
        calls["forward"] += 1
        return orig_fwd(*a, **k)

    model.step = counting_step  # type: ignore[method-assign]
    model.forward = counting_forward  # type: ignore[method-assign]
    lm = TinyLmBackend("m", model, tok, {})
    out = generate(lm, "abc", max_tokens=20, temperature=1.0, top_k=None, seed=3)
    n = len(out.token_ids)
    assert calls["forward"] == 1  # the prompt, once
    # One step per generated token but the last (whose step would be unused) when it ran to
    # max_tokens; never a re-run of the prefix.
    assert calls["step"] == (n - 1 if out.stopped == "max_tokens" else n)
    assert not {tok.pad_id, tok.bos_id, tok.mask_id} & set(out.token_ids)
    # The same seed gives the same text; greedy decoding equals argmax of full recompute.
    again = generate(lm, "abc", max_tokens=20, temperature=1.0, top_k=None, seed=3)
    assert again.token_ids == out.token_ids
    greedy = generate(lm, "abc", max_tokens=10, temperature=0.0, seed=0)
    ids = [tok.bos_id, *tok.encode("abc")]
    for t in greedy.token_ids:
        with torch.no_grad():
            logits, _ = orig_fwd(torch.tensor([ids]))
        last = logits[0, -1].clone()
        last[[tok.pad_id, tok.bos_id, tok.mask_id]] = float("-inf")
        assert int(last.argmax()) == t
        ids.append(t)


# ---------------------------------------------------------------------------- plasticity


def test_context_net_is_the_only_plastic_part_and_starts_at_zero():
    model = TinyLm(TinyLmConfig(vocab_size=50, d_model=16, n_layers=1, context_rank=4), seed=0)
    plastic = model.plastic_parameters()
    assert set(plastic) == {"context.down", "context.up"}
    assert torch.equal(plastic["context.up"], torch.zeros(16, 4))
    x = torch.randn(2, 5, 16)
    assert torch.equal(model.context(x), torch.zeros_like(x))
    with torch.no_grad():  # a trained (non-zero) head, so gradients reach the context net
        model.head.weight.normal_()
    core = {n for n, _ in model.core_named_parameters()}
    assert not core & set(plastic) and core | set(plastic) == {
        n for n, _ in model.named_parameters()
    }

    model.freeze_core()
    tokens = torch.randint(0, 50, (2, 12))
    logits, _ = model(tokens)
    F.cross_entropy(logits[:, :-1].reshape(-1, 50), tokens[:, 1:].reshape(-1)).backward()
    for name, p in model.named_parameters():
        assert (p.grad is not None) == name.startswith("context."), name
    assert plastic["context.up"].grad is not None and plastic["context.up"].grad.abs().sum() > 0


def test_writing_the_context_net_changes_outputs_and_reset_restores():
    model = tiny()
    tokens = torch.randint(0, 97, (1, 20))
    with torch.no_grad():
        model.reset_context()
        before, _ = model(tokens)
        model.context.up.normal_()
        changed, _ = model(tokens)
        model.reset_context()
        after, _ = model(tokens)
    assert not torch.allclose(before, changed)
    assert torch.equal(before, after)


def test_same_seed_same_weights_and_config_round_trip():
    cfg = TinyLmConfig(vocab_size=60, d_model=16, n_layers=2)
    a, b = TinyLm(cfg, seed=5), TinyLm(cfg, seed=5)
    for (n, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(p, q), n
    assert TinyLmConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"vocab_size": 0}, "vocab_size"),
        ({"backbone": "transformer"}, "backbone"),
        ({"d_model": 8, "context_rank": 9}, "context_rank"),
        ({"dt_min": 0.5, "dt_max": 0.1}, "dt_min"),
        ({"mlp_mult": -1}, "mlp_mult"),
    ],
)
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        TinyLmConfig(**kw)
    with pytest.raises(ValueError, match="unknown field"):
        TinyLmConfig.from_dict({"d_model": 8, "heads": 4})
