"""The gate's fine-tuned encoder: LoRA adapters on MiniLM's top layers and a linear head.

The frozen-embedding head (:func:`ttt.safety.gate_semantic.fit_mlp`) does not carry to an
attack source it never saw; adapting MiniLM's top layers does better
(``benchmarks/bench_gate_finetune.py``). This module trains those adapters with ``peft`` and
scores units the way the gate will run them:

    lower = LowerStates.compute(texts)            # int8 MiniLM layers 0..3, one text at a time
    head = fit_lora(lower, idx, y, w)             # LoRA on layers 4..5 + a linear head (peft)
    z = head.unit_logits(lower, idx)              # merged into int8 layers 4..5, one at a time

Shapes: a unit of T wordpieces has lower states (T, 384); the pooled embedding is the
L2-normalised mean over its tokens, (384,); the head's logit is ``e · w + b``.

Deployment merges each adapter into its Linear (``W + (alpha / r) · B A``), then quantises
every Linear to int8 as the frozen stage does (:class:`ttt.safety.embedder.Embedder` with
``adapt=``), so a window costs what it cost before. Training sees the *int8* lower layers'
states (what the deployed model computes below the adapters) and float top layers; the
gate's thresholds are then chosen on scores of the deployed int8 path.
"""

from __future__ import annotations

import copy
import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ttt.safety.embedder import EMBED_DIM, get_embedder

__all__ = [
    "LORA_TARGETS",
    "LoraHead",
    "LoraSettings",
    "LowerStates",
    "check_adapters",
    "fit_lora",
    "length_batches",
    "mean_pool",
    "merge_adapters",
    "run_layers",
    "weighted_bce_step",
]

# Every Linear of a BertLayer (paths inside ``encoder.layer[i]``).
LORA_TARGETS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
N_LAYERS = 6
POOL_SCALE = 8.0  # the head sees 8 x the unit-norm embedding, so it starts at a usable scale


@dataclass(frozen=True)
class LoraSettings:
    """Fine-tuning settings (those ``bench_gate_finetune.py`` measured; not searched)."""

    top_layers: int = 2  # adapted layers, the top of MiniLM's 6
    rank: int = 8
    alpha: int = 16
    epochs: int = 2
    lr: float = 3e-4  # adapters
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    batch: int = 32
    threads: int = 2  # fixed, so the sums (and the shipped bytes) repeat

    def __post_init__(self) -> None:
        if not 1 <= self.top_layers < N_LAYERS or self.rank < 1 or self.epochs < 1:
            raise ValueError(f"invalid LoraSettings: {self}")

    @property
    def split(self) -> int:
        """Index of the first adapted layer."""
        return N_LAYERS - self.top_layers


def _bert(model: Any) -> Any:
    """The BertModel inside a SentenceTransformer."""
    return model[0].auto_model


def _layer_out(out: Any) -> Any:
    return out[0] if isinstance(out, tuple) else out


class LowerStates:
    """Each unit's hidden states after MiniLM's int8 layers ``0..split-1``: float32 (T, 384),
    computed one text at a time (dynamic int8 scales activations per batch)."""

    def __init__(self, states: list[np.ndarray], split: int) -> None:
        self.states = states
        self.split = split
        self.lens = np.asarray([len(s) for s in states])

    @classmethod
    def compute(cls, texts: Sequence[str], split: int = 4) -> LowerStates:
        import torch

        st = get_embedder(quantized=True).model
        bert = _bert(st)
        out: list[np.ndarray] = []
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.no_grad():
                for n, text in enumerate(texts):
                    f = st.preprocess([text])
                    h = bert.embeddings(
                        input_ids=f["input_ids"], token_type_ids=f.get("token_type_ids")
                    )
                    for layer in bert.encoder.layer[:split]:
                        h = _layer_out(layer(h))
                    out.append(h[0].numpy().astype(np.float32))
                    if n % 2000 == 1999:
                        print(f"lower states {n + 1}/{len(texts)}", file=sys.stderr)
        finally:
            torch.set_num_threads(threads)
        return cls(out, split)

    def batch(self, idx: np.ndarray) -> tuple[Any, Any]:
        """(states (B, t, 384), mask (B, t)) of units ``idx``, zero-padded to the longest."""
        import torch

        t = int(self.lens[idx].max())
        h = np.zeros((len(idx), t, EMBED_DIM), dtype=np.float32)
        mask = np.zeros((len(idx), t), dtype=np.float32)
        for j, i in enumerate(idx.tolist()):
            h[j, : self.lens[i]] = self.states[i]
            mask[j, : self.lens[i]] = 1.0
        return torch.from_numpy(h), torch.from_numpy(mask)


def run_layers(layers: Any, h: Any, mask: Any | None) -> Any:
    """Hidden states through BertLayers; ``mask`` (B, t) of 0/1, None for one unpadded text."""
    am = None if mask is None else (1.0 - mask[:, None, None, :]) * -1e9
    for layer in layers:
        h = _layer_out(layer(h, attention_mask=am))
    return h


def mean_pool(h: Any, mask: Any | None) -> Any:
    """(B, t, 384) -> (B, 384): L2-normalised mean over the real tokens (MiniLM's pooling)."""
    import torch

    v = h.mean(1) if mask is None else (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    return torch.nn.functional.normalize(v, dim=-1)


def _float_layers(split: int) -> list[Any]:
    """Float copies of MiniLM layers ``split..5`` with eager attention (an additive mask)."""
    bert = _bert(get_embedder(quantized=False).model)
    layers = copy.deepcopy(list(bert.encoder.layer[split:]))
    for layer in layers:
        cfg = copy.copy(layer.attention.self.config)
        cfg._attn_implementation = "eager"
        layer.attention.self.config = cfg
    return layers


@dataclass
class LoraHead:
    """Trained adapters and head. ``modules`` maps ``"<layer>.<path>"`` (for example
    ``"4.attention.self.query"``) to (A (r, in), B (out, r)); the head is ``e · w + b`` on
    the L2-normalised pooled embedding ``e`` (``POOL_SCALE`` is folded into ``w``)."""

    modules: dict[str, tuple[np.ndarray, np.ndarray]]
    scale: float  # alpha / rank
    w: np.ndarray  # (384,)
    b: float
    _top: Any = field(default=None, repr=False, compare=False)  # int8 merged top, built once

    @property
    def split(self) -> int:
        return min(int(k.split(".", 1)[0]) for k in self.modules)

    def merge_into(self, bert: Any) -> None:
        """Add ``scale · B A`` to each adapted Linear of ``bert`` (a BertModel), in place."""
        merge_adapters(bert.encoder.layer, self.modules, self.scale, first=0)

    def top_layers_int8(self) -> Any:
        """Layers ``split..5``, adapters merged, every Linear int8 (the deployed top)."""
        import torch

        if self._top is None:
            layers = torch.nn.ModuleList(_float_layers(self.split))
            merge_adapters(layers, self.modules, self.scale, first=self.split)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._top = torch.ao.quantization.quantize_dynamic(
                    layers.eval(), {torch.nn.Linear}, dtype=torch.qint8
                )
        return self._top

    def unit_logits(self, lower: LowerStates, idx: np.ndarray) -> np.ndarray:
        """(len(idx),) head logits of units ``idx`` through the deployed path (int8, merged,
        one unit at a time, one thread), clipped to +-12."""
        import torch

        if lower.split != self.split:
            raise ValueError(
                f"lower states stop at layer {lower.split}, adapters start at {self.split}"
            )
        top = self.top_layers_int8()
        out = np.zeros(len(idx))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.no_grad():
                for j, i in enumerate(np.asarray(idx).tolist()):
                    h = torch.from_numpy(lower.states[i])[None]
                    e = mean_pool(run_layers(top, h, None), None)[0].numpy().astype(np.float64)
                    out[j] = e @ self.w + self.b
        finally:
            torch.set_num_threads(threads)
        return np.clip(out, -12.0, 12.0)


def merge_adapters(
    layers: Any, modules: dict[str, tuple[np.ndarray, np.ndarray]], scale: float, *, first: int
) -> None:
    """W += scale · B A for each ``"<layer>.<path>"`` of ``modules``; ``layers`` holds MiniLM's
    layers from index ``first`` on (0: all of them)."""
    import torch

    with torch.no_grad():
        for name, (a, b) in modules.items():
            i, path = name.split(".", 1)
            lin = layers[int(i) - first].get_submodule(path)
            delta = torch.from_numpy(
                np.asarray(b, dtype=np.float32) @ np.asarray(a, dtype=np.float32)
            )
            if delta.shape != lin.weight.shape:
                raise ValueError(
                    f"adapter {name}: B A is {tuple(delta.shape)}, weight {tuple(lin.weight.shape)}"
                )
            lin.weight += scale * delta


def length_batches(rng: np.random.Generator, lens: np.ndarray, batch: int) -> list[np.ndarray]:
    """One epoch's batches of positions into ``lens`` (n,): a random permutation cut into
    blocks of 16 batches, each block sorted by length (little padding), the batches then
    visited in random order."""
    perm = rng.permutation(len(lens))
    batches = []
    for k in range(0, len(perm), 16 * batch):
        block = perm[k : k + 16 * batch]
        block = block[np.argsort(lens[block], kind="stable")]
        batches += [block[i : i + batch] for i in range(0, len(block), batch)]
    return [batches[k] for k in rng.permutation(len(batches)).tolist()]


def weighted_bce_step(opt: Any, z: Any, y: np.ndarray, w: np.ndarray, n: int) -> float:
    """One optimiser step on a batch's share of the epoch's weighted cross-entropy: logits
    ``z`` (B,), labels ``y`` and weights ``w`` (B,) float32, summed and divided by the
    epoch's unit count ``n``. Returns the batch's loss."""
    import torch

    loss = (
        torch.nn.functional.binary_cross_entropy_with_logits(
            z, torch.from_numpy(y), weight=torch.from_numpy(w), reduction="sum"
        )
        / n
    )
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss.detach())


def fit_lora(
    lower: LowerStates,
    idx: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    s: LoraSettings = LoraSettings(),
    *,
    seed: int = 0,
) -> LoraHead:
    """Train LoRA adapters (peft) on layers ``split..5`` and a linear head on units ``idx``
    with labels ``y`` and weights ``w`` (each (n,); each class is given half the mass) by
    AdamW on the weighted cross-entropy, ``s.epochs`` epochs of length-bucketed batches.
    Deterministic for a given ``seed`` at ``s.threads`` threads."""
    import torch
    from peft import LoraConfig, inject_adapter_in_model

    if lower.split != s.split:
        raise ValueError(f"lower states stop at layer {lower.split}, settings adapt from {s.split}")
    idx = np.asarray(idx)
    y = np.asarray(y, dtype=np.float32)
    wt = np.asarray(w, dtype=np.float64).copy()
    for c in (0, 1):
        if not (y == c).any():
            raise ValueError("fit_lora needs both classes")
        wt[y == c] *= 0.5 / wt[y == c].sum()
    wt = (wt * len(idx)).astype(np.float32)  # mean weight 1
    threads = torch.get_num_threads()
    torch.set_num_threads(s.threads)
    try:
        torch.manual_seed(seed)
        layers: Any = torch.nn.ModuleList(_float_layers(s.split))
        for p in layers.parameters():
            p.requires_grad_(False)
        cfg = LoraConfig(
            r=s.rank,
            lora_alpha=s.alpha,
            lora_dropout=0.0,
            target_modules=["query", "key", "value", "dense"],
        )
        layers = inject_adapter_in_model(cfg, layers)
        head = torch.nn.Linear(EMBED_DIM, 1)
        adapters = [p for p in layers.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(
            [
                {"params": adapters, "lr": s.lr},
                {"params": head.parameters(), "lr": s.head_lr},
            ],
            weight_decay=s.weight_decay,
        )
        layers.train()
        for epoch in range(s.epochs):
            rng = np.random.default_rng([seed, epoch])
            for bsel in length_batches(rng, lower.lens[idx], s.batch):
                h, mask = lower.batch(idx[bsel])
                z = head(POOL_SCALE * mean_pool(run_layers(layers, h, mask), mask)).squeeze(-1)
                weighted_bce_step(opt, z, y[bsel], wt[bsel], len(idx))
    finally:
        torch.set_num_threads(threads)
    modules: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, mod in layers.named_modules():
        if hasattr(mod, "lora_A") and "default" in getattr(mod, "lora_A", {}):
            i, path = name.split(".", 1)
            a = mod.lora_A["default"].weight.detach().numpy().astype(np.float64)
            b = mod.lora_B["default"].weight.detach().numpy().astype(np.float64)
            modules[f"{int(i) + s.split}.{path}"] = (a, b)
    expected = {f"{i}.{p}" for i in range(s.split, N_LAYERS) for p in LORA_TARGETS}
    if set(modules) != expected:
        raise RuntimeError(f"peft adapted {sorted(modules)}, expected {sorted(expected)}")
    wv = head.weight.detach().numpy()[0].astype(np.float64) * POOL_SCALE
    return LoraHead(modules, s.alpha / s.rank, wv, float(head.bias.detach()[0]))


def check_adapters(head: LoraHead) -> None:
    """``ValueError`` naming the adapter that is not ``"<layer>.<Linear path>"`` or not finite."""
    for name, (a, b) in head.modules.items():
        i, _, path = name.partition(".")
        if not i.isdigit() or not 0 < int(i) < N_LAYERS or path not in LORA_TARGETS:
            raise ValueError(
                f"adapter {name!r}: expected '<layer 1..{N_LAYERS - 1}>.<one of {LORA_TARGETS}>'"
            )
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            raise ValueError(f"adapter {name} is not finite")
    if not np.isfinite(head.w).all() or not math.isfinite(head.b):
        raise ValueError("LoRA head weights are not finite")
