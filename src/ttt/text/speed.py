"""``ttt bench chat``: what a chat turn costs, per model, with the reference in the same run.

For each model: load time (first load in the process, then a warm reload with the file and
dequantised caches in place), and over ``turns`` real chat turns (``ttt.text.chat``, default
safety, a ~128-token prompt, one write at the default steps, the reply generated greedily)
the turn latency p50/p90 with its update and generation parts. Generation speed is measured
on its own over exactly ``gen_tokens`` tokens (stop tokens banned) with the KV cache, prompt
read included, and for an HF model against plain ``transformers`` ``generate`` (greedy, the
same prompt, the base model without LoRA, prompt included) in the same run; both must produce
the same tokens.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch

from ttt.models import registry
from ttt.models.generate import sample_continuation
from ttt.models.protocol import FastWeightLm, chat_prompt
from ttt.store import ArtifactStore

PROMPT = (
    "Here is a short note about my week, please keep it in mind. On Monday I met my friend "
    "Daria Voss at the train station in Utrecht and we took the slow train to the coast. "
    "The weather was grey but warm, and we walked for three hours along the dunes before "
    "lunch. On Wednesday my manager asked me to finish the quarterly report by Friday, "
    "which meant two long evenings at the office. On Thursday my brother called to say "
    "that his daughter Mila started school and loves her teacher, Mr. Okonkwo. What should "
    "I cook for dinner tonight?"
)


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


class _NoStop:
    """A view of ``lm`` whose stop set is empty: generation runs to ``max_tokens``."""

    def __init__(self, lm: FastWeightLm) -> None:
        self._lm = lm

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lm, name)

    @property
    def stop_ids(self) -> frozenset[int]:
        return frozenset()

    @property
    def banned_ids(self) -> tuple[int, ...]:
        return (*self._lm.banned_ids, *sorted(self._lm.stop_ids))


@torch.no_grad()
def generation_speed(lm: FastWeightLm, ids: list[int], n: int, repeats: int = 3) -> dict[str, Any]:
    """Tokens/s (``n`` over prompt read + ``n`` steps, best of ``repeats``) of our cached loop
    with the fast weights, and for an HF model of ``transformers`` ``generate`` on the base
    weights with the same prompt."""
    view: Any = _NoStop(lm)
    ours: list[float] = []
    tokens: list[int] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        with lm.inference():
            logits, state = lm.prefill(ids)
            tokens, _ = sample_continuation(
                view, logits, state, n, 0.0, None, torch.Generator().manual_seed(0)
            )
        ours.append(len(tokens) / (time.perf_counter() - t0))
    out: dict[str, Any] = {"tokens": len(tokens), "ours_tokens_per_s": max(ours)}
    if lm.backend == "hf":
        model: Any = getattr(lm, "model")  # noqa: B009 - the HF backend's transformers model
        layers: list[Any] = list(getattr(lm, "_lora_modules"))  # noqa: B009 - peft LoRA layers
        x = torch.tensor([ids], device=lm.device)
        ref: list[float] = []
        ref_tokens: list[int] = []
        for m in layers:
            m.enable_adapters(False)
        try:
            for _ in range(repeats):
                t0 = time.perf_counter()
                y = model.generate(
                    input_ids=x,
                    attention_mask=torch.ones_like(x),
                    max_new_tokens=n,
                    min_new_tokens=n,
                    do_sample=False,
                    suppress_tokens=sorted(lm.stop_ids),
                )
                ref.append(n / (time.perf_counter() - t0))
                ref_tokens = y[0, x.shape[1] :].tolist()
        finally:
            for m in layers:
                m.enable_adapters(True)
            for p in lm.plastic().values():
                p.requires_grad_(True)
        out.update(
            transformers_tokens_per_s=max(ref),
            ratio=max(ours) / max(ref),
            same_tokens=ref_tokens == tokens,
        )
    return out


def bench_chat_model(
    store: ArtifactStore, model_id: str, *, turns: int = 5, gen_tokens: int = 48,
    device: str = "cpu",
) -> dict[str, Any]:  # fmt: skip
    """One row of ``ttt bench chat`` (module docstring)."""
    from ttt.text import chat

    t0 = time.perf_counter()
    lm = registry.load_model(store, model_id, device=device)
    first_load = time.perf_counter() - t0
    del lm
    t0 = time.perf_counter()
    lm = registry.load_model(store, model_id, device=device)
    warm_load = time.perf_counter() - t0
    prompt_ids = chat_prompt(lm, PROMPT)
    gen = generation_speed(lm, prompt_ids, gen_tokens)
    chat.clear_cache()
    sid = f"bench-chat-{int(time.time() * 1000)}"
    chat.create_session(store, model_id, session_id=sid)
    try:
        recs = [
            chat.send_message(store, sid, PROMPT, max_tokens=gen_tokens, temperature=0.0)
            for _ in range(turns)
        ]
    finally:
        chat.delete_session(store, sid)
    total = [r["latency_ms"]["total"] / 1000 for r in recs]
    update = [r["latency_ms"]["update"] / 1000 for r in recs]
    generate = [r["latency_ms"]["generate"] / 1000 for r in recs]
    return {
        "model": model_id,
        "backend": lm.backend,
        "device": device,
        "threads": torch.get_num_threads(),
        "load_first_s": first_load,
        "load_warm_s": warm_load,
        "prompt_tokens": len(lm.tokenizer.encode(PROMPT)),
        "turns": turns,
        "turn_p50_s": statistics.median(total),
        "turn_p90_s": _pct(total, 0.9),
        "update_p50_s": statistics.median(update),
        "generate_p50_s": statistics.median(generate),
        "completion_tokens": [r["completion_tokens"] for r in recs],
        "committed": [r["committed_chunks"] for r in recs],
        "generation": gen,
    }
