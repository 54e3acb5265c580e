"""TinyLm as a protocol backend (``ttt.models.protocol.FastWeightLm``).

Fast weights are TinyLm's context net (``context.down``, ``context.up``; ``up`` is zero in a
fresh session). The context net sits *after* the frozen backbone, so an example's backbone
features do not depend on the fast weights: ``prepare`` computes them once and every loss,
gradient and probe afterwards runs only the context net, LayerNorm and head. The stream
context is the recurrent state plus the last token read (the input of the next position).

    lm = TinyLmBackend(model_id, TinyLm(cfg), tokenizer, meta)
    prep = lm.prepare(Example(ids=tok.encode("the cat"), ctx=None))
    loss, grads, influence = lm.write_signals(prep)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ttt.models.protocol import Example, no_op, weighted_mean
from ttt.models.tinylm import TinyLm
from ttt.models.tokenizer import BpeTokenizer

BACKEND = "tinylm"


@dataclass(frozen=True)
class TinyCtx:
    """Stream position: recurrent state after every token but the last, and that token."""

    state: Tensor | None  # (L, 1, E); None = a fresh (zero) state
    prev: int


@dataclass
class TinyPrepared:
    x: Tensor  # (1, T, D) backbone features of what the model reads
    y: Tensor  # (1, T) targets
    weights: Tensor | None  # (T,)
    n: int
    next_ctx: TinyCtx


class TinyLmBackend:
    """A loaded TinyLm + tokenizer + meta, speaking the model protocol."""

    backend = BACKEND

    def __init__(
        self, model_id: str, model: TinyLm, tokenizer: BpeTokenizer, meta: dict[str, Any]
    ) -> None:
        self.model_id = model_id
        self.model = model
        self._tokenizer = tokenizer
        self.meta = meta
        self.weights_sha256 = str(meta.get("weights_sha256") or "")
        # A fresh session's fast weights: the stored down projection, up = 0.
        self._initial = {
            n: (torch.zeros_like(p) if n == "context.up" else p.detach().clone())
            for n, p in model.plastic_parameters().items()
        }

    # -- identity -------------------------------------------------------------------------
    @property
    def tokenizer(self) -> BpeTokenizer:
        return self._tokenizer

    @property
    def device(self) -> torch.device:
        return self.model.embed.weight.device

    def describe(self) -> dict[str, Any]:
        return {
            "backend": BACKEND,
            "model_id": self.model_id,
            "architecture": f"TinyLm ({self.model.cfg.backbone})",
            "backbone": self.model.cfg.backbone,
            "parameters": self.model.num_params(),
        }

    # -- fast weights ---------------------------------------------------------------------
    def plastic(self) -> dict[str, Tensor]:
        return dict(self.model.plastic_parameters())

    def initial_plastic(self) -> dict[str, Tensor]:
        return {n: t.clone() for n, t in self._initial.items()}

    def plastic_config(self) -> dict[str, Any]:
        return {"kind": "context_net", "rank": self.model.cfg.context_rank}

    def for_writing(self) -> None:
        """Core frozen, fast weights trainable, eval mode (no dropout anywhere)."""
        self.model.eval()
        self.model.freeze_core()

    # -- examples -------------------------------------------------------------------------
    @property
    def mask_id(self) -> int:
        return self._tokenizer.mask_id

    def fresh_ctx(self) -> TinyCtx:
        return TinyCtx(self.model.init_state(1), self._tokenizer.bos_id)

    @torch.no_grad()
    def _features(self, inputs: list[int], state: Tensor | None) -> tuple[Tensor, Tensor]:
        x, new_state = self.model.features(
            torch.tensor([inputs], dtype=torch.long, device=self.device), state
        )
        return x, new_state  # (1, T, D), state

    def prepare(self, ex: Example) -> TinyPrepared:
        ctx = ex.ctx if ex.ctx is not None else self.fresh_ctx()
        clean = [ctx.prev, *ex.ids[:-1]]  # (T,): position j reads ids[j-1], predicts ids[j]
        x, new_state = self._features(clean, ctx.state)
        if ex.inputs is not None and ex.inputs != ex.ids:
            x, _ = self._features([ctx.prev, *ex.inputs[:-1]], ctx.state)
        y = torch.tensor([ex.ids], dtype=torch.long, device=self.device)
        w = ex.weights.to(self.device) if ex.weights is not None else None
        return TinyPrepared(x, y, w, len(ex.ids), TinyCtx(new_state, ex.ids[-1]))

    def token_losses(self, prep: TinyPrepared) -> Tensor:
        logits = self.model.logits_from(prep.x)  # (1, T, V)
        return F.cross_entropy(logits[0], prep.y[0], reduction="none")  # (T,)

    def write_signals(self, prep: TinyPrepared) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        """Loss, plastic gradients and exact per-token influence: the context net's gradient
        is a sum of per-position outer products (``δ_t ⊗ (down x_t)`` for ``up`` and
        ``(upᵀ δ_t) ⊗ x_t`` for ``down``), so each position's own contribution has the norm
        computed here."""
        params = self.plastic()
        ctx = self.model.context(prep.x)  # (1, T, D)
        logits = self.model.head(self.model.norm(prep.x + ctx))
        per_tok = F.cross_entropy(logits[0], prep.y[0], reduction="none")  # (T,)
        loss = weighted_mean(per_tok, prep.weights)
        *pgrads, dctx = torch.autograd.grad(loss, [*params.values(), ctx])
        with torch.no_grad():
            cn = self.model.context
            d = dctx[0].double()  # (T, D)
            xs = prep.x[0].double()  # (T, D)
            z = xs @ cn.down.double().T  # (T, r)
            up_part = d.norm(dim=1) * z.norm(dim=1)
            down_part = (d @ cn.up.double()).norm(dim=1) * xs.norm(dim=1)
            influence = torch.sqrt(up_part**2 + down_part**2).float()  # (T,)
        return loss.detach(), dict(zip(params, pgrads, strict=True)), influence

    def example_losses(self, preps: Sequence[TinyPrepared]) -> Tensor:
        return torch.stack([weighted_mean(self.token_losses(p), p.weights) for p in preps])

    def batch_grads(self, preps: Sequence[TinyPrepared]) -> dict[str, Tensor]:
        params = self.plastic()
        per: dict[str, list[Tensor]] = {n: [] for n in params}
        for p in preps:
            loss = weighted_mean(self.token_losses(p), p.weights)
            for n, g in zip(params, torch.autograd.grad(loss, list(params.values())), strict=True):
                per[n].append(g.detach())
        return {n: torch.stack(v) for n, v in per.items()}

    # -- chat and generation --------------------------------------------------------------
    def chat_pieces(self, generation: bool) -> tuple[list[int], list[int]]:
        return [], []  # TinyLm has no chat template: a message is a plain document

    @torch.no_grad()
    def prefill(self, ids: Sequence[int]) -> tuple[Tensor, Any]:
        tokens = torch.tensor([[self._tokenizer.bos_id, *ids]], device=self.device)
        logits, state = self.model(tokens)  # (1, T, V)
        return logits[:, -1], state

    @torch.no_grad()
    def step(self, token: Tensor, state: Any) -> tuple[Tensor, Any]:
        return self.model.step(token, state)

    @property
    def stop_ids(self) -> frozenset[int]:
        return frozenset({self._tokenizer.eos_id})

    @property
    def banned_ids(self) -> tuple[int, ...]:
        t = self._tokenizer
        return (t.pad_id, t.bos_id, t.mask_id)

    def inference(self) -> Any:
        return no_op()
