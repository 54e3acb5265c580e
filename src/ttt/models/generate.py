"""Sampling from any protocol model (``FastWeightLm``), and TinyLm evaluation (val loss).

The prompt is read once (``lm.prefill``: one scan over ``<|bos|> prompt`` for TinyLm, one
forward filling the KV cache for an HF model); every new token then costs one ``lm.step`` on
the carried state — never a re-run of the prefix.

    out = generate(lm, "The list type", max_tokens=80, temperature=0.8, top_k=40, seed=0)
    out.text, out.ms_per_token
    report = evaluate(model, val_buffer, seq_len=128)   # {"val_loss", "val_ppl", "tokens_per_s"}
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ttt.models.corpus import TokenBuffer
from ttt.models.protocol import FastWeightLm, TextTokenizer, chat_prompt
from ttt.models.tinylm import TinyLm
from ttt.models.train import evaluate_loss


@dataclass
class Generation:
    prompt: str
    text: str  # the generated continuation only
    token_ids: list[int]
    stopped: str  # "eos" or "max_tokens"
    ms_per_token: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "text": self.text,
            "token_ids": self.token_ids,
            "stopped": self.stopped,
            "ms_per_token": self.ms_per_token,
        }


def sample_token(
    logits: Tensor, temperature: float, top_k: int | None, generator: torch.Generator
) -> Tensor:
    """Sample ids from logits (B, V): greedy when temperature == 0, else softmax(logits / T)
    restricted to the top_k most likely tokens. Returns (B,)."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    scaled = logits.float() / temperature
    if not bool(torch.isfinite(scaled).all()):
        # A tiny T overflowed float32: softmax(logits / T) is one-hot at the argmax (T -> 0).
        return logits.argmax(dim=-1)
    logits = scaled
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = F.softmax(logits, dim=-1).cpu()
    return torch.multinomial(probs, 1, generator=generator)[:, 0].to(logits.device)


@torch.no_grad()
def sample_continuation(
    lm: FastWeightLm,
    logits: Tensor,
    state: Any,
    max_tokens: int,
    temperature: float,
    top_k: int | None,
    generator: torch.Generator,
    on_id: Callable[[int], None] | None = None,
) -> tuple[list[int], str]:
    """Sample up to ``max_tokens`` ids one ``lm.step`` at a time from ``logits`` (1, V), the
    next-token logits at generation ``state``; stops early at one of ``lm.stop_ids``. Never
    samples ``lm.banned_ids`` (TinyLm's pad/bos/mask: they are not text). ``on_id(id)`` sees
    each kept id as it is sampled. Returns (ids, "eos" | "max_tokens")."""
    banned = torch.tensor(lm.banned_ids, dtype=torch.long, device=logits.device)
    stops = lm.stop_ids
    out: list[int] = []
    for i in range(max_tokens):
        if banned.numel():
            logits = logits.index_fill(-1, banned, float("-inf"))
        tok = sample_token(logits, temperature, top_k, generator)  # (1,)
        if int(tok) in stops:
            return out, "eos"
        out.append(int(tok))
        if on_id is not None:
            on_id(int(tok))
        if i + 1 < max_tokens:  # the step after the last token would be unused
            logits, state = lm.step(tok, state)
    return out, "max_tokens"


class StreamDecoder:
    """Generated ids -> text pieces, each handed out as soon as it forms whole characters.

    A byte-level token can end inside a multi-byte UTF-8 character (it then decodes to a
    trailing U+FFFD): such pieces wait for the next tokens (at most 8, after which the bytes
    are invalid anyway). The completion is the concatenation of the pieces."""

    def __init__(self, tokenizer: TextTokenizer, on_token: Callable[[str], None] | None) -> None:
        self.tokenizer = tokenizer
        self.on_token = on_token
        self.pending: list[int] = []
        self.pieces: list[str] = []

    def push(self, token_id: int) -> None:
        self.pending.append(token_id)
        text = self.tokenizer.decode(self.pending)
        if text.endswith("\ufffd") and len(self.pending) < 8:
            return
        self._emit(text)

    def finish(self) -> None:
        if self.pending:
            self._emit(self.tokenizer.decode(self.pending))

    def _emit(self, text: str) -> None:
        self.pending = []
        if text:
            self.pieces.append(text)
            if self.on_token is not None:
                self.on_token(text)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def check_sampling(max_tokens: int, temperature: float, top_k: int | None) -> None:
    if max_tokens < 0:
        raise ValueError(f"max_tokens must be >= 0, got {max_tokens}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 (or None for no limit), got {top_k}")


@torch.no_grad()
def generate_ids(
    lm: FastWeightLm,
    ids: list[int],
    max_tokens: int = 100,
    temperature: float = 0.8,
    top_k: int | None = 40,
    seed: int = 0,
    on_token: Callable[[str], None] | None = None,
) -> tuple[list[int], str, str, float]:
    """Read ``ids`` (a fresh document) and sample a continuation with the current fast
    weights (KV cache / recurrent state; LoRA merged for speed under ``lm.inference()``).
    Returns (ids, text, "eos" | "max_tokens", ms per generated token)."""
    check_sampling(max_tokens, temperature, top_k)
    if max_tokens == 0:
        return [], "", "max_tokens", 0.0
    gen = torch.Generator().manual_seed(seed)
    dec = StreamDecoder(lm.tokenizer, on_token)
    with lm.inference():
        logits, state = lm.prefill(ids)
        t0 = time.perf_counter()
        out, stopped = sample_continuation(
            lm, logits, state, max_tokens, temperature, top_k, gen, on_id=dec.push
        )
        elapsed = time.perf_counter() - t0
    dec.finish()
    return out, dec.text, stopped, 1000 * elapsed / max(1, len(out))


def greedy_reply(lm: FastWeightLm, user_text: str, max_tokens: int) -> str:
    """The greedy reply (at most ``max_tokens`` tokens) to one user message in ``lm``'s chat
    template, in a fresh context, under the current fast weights: how the memory benchmark,
    the jailbreak benchmark and a chat session's memory probe ask a question."""
    return generate_ids(lm, chat_prompt(lm, user_text), max_tokens, 0.0, None)[1]


def greedy_replies(
    lm: FastWeightLm, prompts: Sequence[str], max_tokens: int, *, batch_size: int = 16
) -> list[str]:
    """Greedy chat replies of ``lm`` (current fast weights) to each user message: batches of
    ``batch_size`` on a model with ``greedy_batch`` (the HF backend), one at a time otherwise.
    Same ids as ``generate_ids(..., temperature=0)`` per prompt (tested), for benchmarks that
    judge many replies."""
    batched = getattr(lm, "greedy_batch", None)
    if batched is None or batch_size <= 1:
        return [greedy_reply(lm, p, max_tokens) for p in prompts]
    out: list[str] = []
    with lm.inference():
        for i in range(0, len(prompts), batch_size):
            asks = [chat_prompt(lm, p) for p in prompts[i : i + batch_size]]
            out += [lm.tokenizer.decode(ids) for ids in batched(asks, max_tokens)]
    return out


def generate(
    lm: FastWeightLm,
    prompt: str,
    max_tokens: int = 100,
    temperature: float = 0.8,
    top_k: int | None = 40,
    seed: int = 0,
) -> Generation:
    """Continue ``prompt`` (plain text; TinyLm may start from an empty one) for at most
    ``max_tokens`` tokens."""
    ids = lm.tokenizer.encode(prompt)
    out, text, stopped, ms = generate_ids(lm, ids, max_tokens, temperature, top_k, seed)
    return Generation(prompt, text, out, stopped, ms)


@torch.no_grad()
def evaluate(
    model: TinyLm, buf: TokenBuffer, seq_len: int, n_windows: int = 64, batch_size: int = 16
) -> dict[str, float]:
    """Validation loss (nats/token), perplexity and forward tokens/s on fixed windows."""
    t0 = time.perf_counter()
    loss = evaluate_loss(model, buf, seq_len, n_windows, batch_size=batch_size)
    elapsed = time.perf_counter() - t0
    n_tokens = len(buf.eval_starts(n_windows, seq_len)) * seq_len
    return {
        "val_loss": loss,
        "val_ppl": math.exp(min(loss, 50.0)),
        "tokens": n_tokens,
        "tokens_per_s": n_tokens / elapsed if elapsed > 0 else float("nan"),
        "seconds": elapsed,
    }
