"""A model's own training-distribution reference for chunk-level signals.

The gate's OOD-plus-heavy-write rule asks "is this chunk's loss unusual *for this model*?" and
"is its write pressure unusual?". Both need a reference measured on the model's held-out
split at the Sentry chunk length with a fresh (zero) context net: the median and the MAD of
the per-chunk loss and of the plastic-parameter gradient norm. It is computed at the end of
training (TinyLm: ``buffer_examples`` of the validation split) or at import (pretrained
models: ``text_examples`` of the built-in corpus, which they never saw at training time as
such) and stored in the model's ``meta.json`` (``reference``); for older TinyLm models the
Sentry computes it on the fly from the stored validation tokens.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ttt.engine.checks import MAD_TO_SIGMA
from ttt.models.corpus import TokenBuffer
from ttt.models.protocol import Example, FastWeightLm
from ttt.models.tinylm import TinyLm
from ttt.models.tokenizer import BpeTokenizer


def scalar_robust_z(value: float, median: float, mad: float) -> float:
    """``(value - median) / scale``, ``scale = max(1.4826 MAD, 1e-3 |median|, 1e-12)`` (the
    floors keep a flat distribution from dividing by zero)."""
    return (value - median) / max(MAD_TO_SIGMA * mad, 1e-3 * abs(median), 1e-12)


MIN_REFERENCE_WINDOWS = 8  # fewer windows give no usable MAD: no z-score at all


def reference_z(value: float, entry: Mapping[str, Any] | None) -> float | None:
    """Robust z of ``value`` against a reference entry ``{median, mad, n}``; None without
    one, or when it was measured on fewer than ``MIN_REFERENCE_WINDOWS`` windows."""
    med, mad = (entry or {}).get("median"), (entry or {}).get("mad")
    if med is None or mad is None or not math.isfinite(med) or not math.isfinite(mad):
        return None
    n = (entry or {}).get("n")
    if isinstance(n, int) and n < MIN_REFERENCE_WINDOWS:
        return None
    return scalar_robust_z(value, med, mad)


def robust_center_scale(values: list[float]) -> dict[str, float]:
    """Median, MAD and count of ``values`` (finite entries only)."""
    v = torch.tensor([x for x in values if x == x and abs(x) != float("inf")], dtype=torch.float64)
    if v.numel() == 0:
        return {"median": float("nan"), "mad": float("nan"), "n": 0}
    med = v.median()
    return {"median": float(med), "mad": float((v - med).abs().median()), "n": int(v.numel())}


def chunk_reference(
    lm: FastWeightLm, examples: Sequence[Example], *, chunk_tokens: int
) -> dict[str, Any]:
    """Per-chunk loss and plastic gradient norm of ``examples`` under a fresh session's fast
    weights (the live fast weights are restored afterwards, bit for bit)."""
    plastic = lm.plastic()
    saved = {n: p.detach().clone() for n, p in plastic.items()}
    losses: list[float] = []
    norms: list[float] = []
    try:
        with torch.no_grad():
            for n, p in plastic.items():
                p.copy_(lm.initial_plastic()[n])
        for ex in examples:
            loss, grads, _ = lm.write_signals(lm.prepare(ex))
            losses.append(float(loss))
            norms.append(
                float(torch.stack([g.double().pow(2).sum() for g in grads.values()]).sum().sqrt())
            )
    finally:
        with torch.no_grad():
            for n, p in plastic.items():
                p.copy_(saved[n])
    return {
        "chunk_tokens": chunk_tokens,
        "n_windows": len(losses),
        "loss": robust_center_scale(losses),
        "grad_norm": robust_center_scale(norms),
    }


def buffer_examples(buf: TokenBuffer, *, chunk_tokens: int, n_windows: int = 64) -> list[Example]:
    """TinyLm reference windows: fixed held-out windows of a token buffer, each read from a
    fresh recurrent state starting at its first token (``chunk_tokens`` predicted)."""
    from ttt.models.tiny import TinyCtx

    n = min(n_windows, max(1, len(buf) - chunk_tokens - 1))
    x, y = buf.windows(buf.eval_starts(n, chunk_tokens), chunk_tokens)  # (N, T) each
    out = []
    for i in range(x.shape[0]):
        ctx = TinyCtx(state=None, prev=int(x[i, 0]))
        out.append(Example(ids=y[i].tolist(), ctx=ctx))
    return out


def text_examples(
    lm: FastWeightLm, texts: Sequence[str], *, chunk_tokens: int, n_windows: int = 16
) -> list[Example]:
    """Reference windows cut from ``texts`` (each a fresh document): consecutive
    ``chunk_tokens``-token windows, at most ``n_windows``, taken evenly across the texts."""
    windows: list[list[int]] = []
    for t in texts:
        ids = lm.tokenizer.encode(t)
        windows.extend(
            ids[i : i + chunk_tokens] for i in range(0, len(ids) - chunk_tokens + 1, chunk_tokens)
        )
    if not windows:
        raise ValueError(f"reference texts hold no window of {chunk_tokens} tokens")
    step = max(1, len(windows) // n_windows)
    return [Example(ids=w) for w in windows[::step][:n_windows]]


def tinylm_reference(
    model: TinyLm, tokenizer: BpeTokenizer, buf: TokenBuffer, *, chunk_tokens: int
) -> dict[str, Any]:
    """``chunk_reference`` of a TinyLm on its validation buffer (on a frozen copy, so the
    caller's model, grads and context net are never touched)."""
    from ttt.models.tiny import TinyLmBackend

    work = copy.deepcopy(model).cpu().eval()
    work.freeze_core()
    lm = TinyLmBackend("", work, tokenizer, {})
    return chunk_reference(
        lm, buffer_examples(buf, chunk_tokens=chunk_tokens), chunk_tokens=chunk_tokens
    )


# Ordinary chat messages (a user telling and asking things): the reference of a chat write,
# which is a short message inside the chat template, not a 128-token document window.
CHAT_REFERENCE_MESSAGES: tuple[str, ...] = (
    "My sister Anna lives in Lyon and works as a nurse at the city hospital.",
    "Can you recommend a good book about the history of Rome?",
    "I had pasta with tomato sauce for dinner and it was delicious.",
    "Our team meeting moved to Thursday at three in the afternoon.",
    "What is the difference between a virus and a bacterium?",
    "My dog Bruno is seven years old and loves long walks by the river.",
    "Please remind me that the rent is due on the first of the month.",
    "How do I convert Celsius to Fahrenheit?",
    "I just started learning the guitar and my fingers hurt a lot.",
    "The train to Manchester was delayed by forty minutes this morning.",
    "My colleague Priya Sharma is moving to the Berlin office next spring.",
    "Write a short poem about autumn leaves.",
    "We are planning a trip to Portugal in June with the kids.",
    "What are some healthy snacks I can take to work?",
    "My grandfather was born in a small village near Krakow in 1938.",
    "I prefer tea over coffee, especially green tea in the morning.",
    "Explain in simple words how a refrigerator keeps food cold.",
    "The password for the guest wifi is written on the fridge.",
    "My son Leo scored two goals in his football match on Saturday.",
    "Could you summarise the main causes of the First World War?",
    "I am allergic to peanuts, so I always check the labels.",
    "Our neighbours, the Okafors, just adopted a grey cat named Smudge.",
    "What time zone is Tokyo in compared to London?",
    "I finished the report and sent it to my manager, Mr. Lindqvist.",
    "My favourite film is an old black and white detective story.",
    "How many cups of flour do I need for a simple bread loaf?",
    "The library closes early on Sundays, at four o'clock.",
    "I keep forgetting where I park my car at the shopping centre.",
    "Tell me a fun fact about octopuses.",
    "My friend Tomás runs a small bakery on Elm Street.",
    "I want to improve my sleep. Any tips?",
    "Last summer we visited my aunt in Nairobi for two weeks.",
)


def chat_examples(
    lm: FastWeightLm, messages: Sequence[str] = CHAT_REFERENCE_MESSAGES
) -> list[Example]:
    """Ordinary user messages as a chat write reads them: inside the chat template, the loss
    on the message's own tokens (what ``ttt.text.write`` trains on)."""
    pre, post = lm.chat_pieces(False)
    out = []
    for m in messages:
        ids = lm.tokenizer.encode(m)
        full = [*pre, *ids, *post]
        w = torch.zeros(len(full))
        w[len(pre) : len(pre) + len(ids)] = 1.0
        out.append(Example(ids=full, weights=w if pre or post else None))
    return out
