"""Sampling from a TinyLm with its recurrent state, and evaluation (val loss, perplexity).

The prompt is run through the model once (one scan over ``<|bos|> prompt``); every new token
then costs one ``model.step`` on the carried state — never a re-run of the prefix.

    out = generate(model, tok, "The list type", max_tokens=80, temperature=0.8, top_k=40, seed=0)
    out.text, out.ms_per_token
    report = evaluate(model, val_buffer, seq_len=128)   # {"val_loss", "val_ppl", "tokens_per_s"}
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ttt.text.corpus import TokenBuffer
from ttt.text.model import TinyLm
from ttt.text.tokenizer import BpeTokenizer
from ttt.text.train import evaluate_loss


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
    model: TinyLm,
    tokenizer: BpeTokenizer,
    logits: Tensor,
    state: Any,
    max_tokens: int,
    temperature: float,
    top_k: int | None,
    generator: torch.Generator,
    on_id: Callable[[int], None] | None = None,
) -> tuple[list[int], str]:
    """Sample up to ``max_tokens`` ids one ``model.step`` at a time from ``logits`` (1, V),
    the next-token logits at recurrent ``state``; stops early at ``<|eos|>``. Never samples
    pad/bos/mask (they are not text). ``on_id(id)`` sees each kept id as it is sampled.
    Returns (ids, "eos" | "max_tokens")."""
    banned = torch.tensor(
        [tokenizer.pad_id, tokenizer.bos_id, tokenizer.mask_id], device=logits.device
    )
    out: list[int] = []
    for i in range(max_tokens):
        logits = logits.index_fill(-1, banned, float("-inf"))
        tok = sample_token(logits, temperature, top_k, generator)  # (1,)
        if int(tok) == tokenizer.eos_id:
            return out, "eos"
        out.append(int(tok))
        if on_id is not None:
            on_id(int(tok))
        if i + 1 < max_tokens:  # the step after the last token would be unused
            logits, state = model.step(tok, state)
    return out, "max_tokens"


@torch.no_grad()
def generate(
    model: TinyLm,
    tokenizer: BpeTokenizer,
    prompt: str,
    max_tokens: int = 100,
    temperature: float = 0.8,
    top_k: int | None = 40,
    seed: int = 0,
) -> Generation:
    """Continue ``prompt`` for at most ``max_tokens`` tokens (stops early at ``<|eos|>``)."""
    if max_tokens < 0:
        raise ValueError(f"max_tokens must be >= 0, got {max_tokens}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 (or None for no limit), got {top_k}")
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    ids = [tokenizer.bos_id, *tokenizer.encode(prompt)]
    logits, state = model(torch.tensor([ids], device=device))  # (1, T, V)
    t0 = time.perf_counter()
    out, stopped = sample_continuation(
        model, tokenizer, logits[:, -1], state, max_tokens, temperature, top_k, gen
    )
    elapsed = time.perf_counter() - t0
    ms = 1000 * elapsed / max(1, len(out))
    return Generation(prompt, tokenizer.decode(out), out, stopped, ms)


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
