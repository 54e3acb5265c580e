"""A chat session's memory probe: what does the session know, with and without its fast weights?

    out = probe_memory(store, "demo-chat", "Who keeps the lighthouse?", expected="Edda Quist")
    out["with_fast_weights"]["answer"], out["without_fast_weights"]["loss"], out["loss_delta"]
    ttt chat probe SID --question "Who keeps the lighthouse?" --expected "Edda Quist" [--json]

For one question, asked as the memory benchmark asks it (``ttt.text.memory``: the question
alone in the model's chat template, a fresh context, a greedy reply of at most ``max_tokens``
tokens), twice: under the session's fast weights, and under a fresh session's (the base
model, or a promoted sleep's adapter residual for an HF model). With an expected answer,
also its **loss**: the mean negative log-likelihood per token of the answer as the reply to
the question (``SentryMonitor.reply_loss``), whether the reply contains it (``recalled``,
the memory benchmark's rule), and ``loss_delta`` = loss with − loss without (negative: the
fast weights made the answer more likely).

A model without a chat template (TinyLm) reads the reply as the continuation of the
question's text, so an expected answer that does not start with whitespace is scored with
one space before it; ``scored_text`` is the exact text whose tokens were scored.

The probe is read-only: it holds the session's lock, writes no file, and leaves the live
fast weights equal to the session's, bit for bit (``torch.equal``).
"""

from __future__ import annotations

import time
from typing import Any

from torch import Tensor

from ttt.models.generate import greedy_reply
from ttt.store import ArtifactStore
from ttt.text.chat import loaded, read_session
from ttt.text.chat_runtime import check_prompt, fast_weight_norm
from ttt.text.memory import contains_answer
from ttt.text.monitor import SentryMonitor

MAX_ANSWER_CHARS = 2000
MAX_PROBE_TOKENS = 256
DEFAULT_PROBE_TOKENS = 24


def check_probe(question: str, expected: str | None, max_tokens: int) -> str:
    """The question as text, or ``ValueError`` naming the bad field."""
    try:
        text = check_prompt(question)
    except (ValueError, TypeError) as e:
        raise ValueError(f"question: {str(e).replace('prompt', 'the question')}") from e
    if expected is not None:
        if not isinstance(expected, str) or not expected.strip():
            raise ValueError("expected: the expected answer is empty (leave it out instead)")
        if len(expected) > MAX_ANSWER_CHARS:
            raise ValueError(f"expected: {len(expected)} characters, more than {MAX_ANSWER_CHARS}")
    m = max_tokens
    if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= MAX_PROBE_TOKENS:
        raise ValueError(f"max_tokens must be an int in [1, {MAX_PROBE_TOKENS}], got {m!r}")
    return text


def scored_text(mon: SentryMonitor, expected: str) -> str:
    """The reply text whose tokens are scored (module docstring: a leading space for a model
    without a chat template)."""
    pre, post = mon.lm.chat_pieces(True)
    if not pre and not post and not expected[:1].isspace():
        return " " + expected
    return expected


def _ask(mon: SentryMonitor, question: str, scored: str | None, max_tokens: int) -> dict[str, Any]:
    answer = greedy_reply(mon.lm, question, max_tokens)
    if scored is None:
        return {"answer": answer, "loss": None, "recalled": None}
    return {
        "answer": answer,
        "loss": mon.reply_loss(question, scored),
        "recalled": contains_answer(answer, scored),
    }


def probe_memory(
    store: ArtifactStore,
    session_id: str,
    question: str,
    expected: str | None = None,
    *,
    max_tokens: int = DEFAULT_PROBE_TOKENS,
) -> dict[str, Any]:
    """Answer (and the expected answer's loss) with and without the session's fast weights;
    nothing is written (module docstring)."""
    text = check_probe(question, expected, max_tokens)
    t0 = time.perf_counter()
    with loaded(store, session_id) as mon:
        meta = read_session(store, session_id)  # under the session's lock: the loaded state's
        own: dict[str, Tensor] = mon.fast_weights()  # CPU clones of the session's
        fresh = {n: t.detach().cpu() for n, t in mon.lm.initial_plastic().items()}
        scored = scored_text(mon, expected) if expected is not None else None
        try:
            with_fw = _ask(mon, text, scored, max_tokens)
            mon.load_fast_weights(fresh)
            without = _ask(mon, text, scored, max_tokens)
        finally:
            mon.load_fast_weights(own)  # the session's, bit for bit
        n_scored = len(mon.tokenizer.encode(scored)) if scored is not None else None
    delta = (
        with_fw["loss"] - without["loss"]
        if with_fw["loss"] is not None and without["loss"] is not None
        else None
    )
    return {
        "session_id": session_id,
        "model_id": meta["model_id"],
        "backend": meta.get("backend", "tinylm"),
        "n_turns": int(meta["n_turns"]),
        "fast_weight_norm": fast_weight_norm(own, fresh),
        "question": text,
        "expected": expected,
        "scored_text": scored,
        "answer_tokens": n_scored,
        "max_tokens": max_tokens,
        "with_fast_weights": with_fw,
        "without_fast_weights": without,
        "loss_delta": delta,
        "seconds": time.perf_counter() - t0,
    }


__all__ = ["DEFAULT_PROBE_TOKENS", "MAX_ANSWER_CHARS", "check_probe", "probe_memory"]
