"""Gradient-guided token search (HotFlip / GCG style) on the real TinyLm behind the defences.

The Sentry writes the context net with one Muon step per chunk: the weight change of a
chunk with training-loss gradient ``G_m`` (per plastic matrix m) is, for a fresh momentum
buffer (after a warm-up the buffer's history is ignored), ``Δθ_m = −lr · s_m · NS(G_m)``
where ``NS`` is Muon's Newton–Schulz orthogonalisation and ``s_m = sqrt(max(1, rows/cols))``.
To first order the step changes a reference loss ``L_ref`` by ``Σ_m ⟨∇L_ref_m, Δθ_m⟩``, so
the differentiable **proxy** of a payload's harm is

    canary:   proxy = −lr Σ_m s_m ⟨∇θ L_canary, NS(∇θ L_payload)⟩   (predicted canary-loss rise)
    implant:  proxy = +lr Σ_m s_m ⟨∇θ L_implant, NS(∇θ L_payload)⟩  (predicted implant-loss drop)

in nats, the same units as the true objective. The payload enters as one-hot rows
``(T, V)``: inputs through the embedding matrix (``one_hot @ W_embed``) and targets through
``−Σ one_hot · log_softmax(logits)``, so ``∂proxy/∂one_hot`` (double backprop through the
plastic-parameter gradient, ``create_graph=True``) scores every single-token swap at every
position. Each iteration samples ``population`` swaps among the top-k tokens per position,
evaluates each with ``Target.evaluate`` — the true, defended objective, not the proxy — and
moves to the best swap when it is at least as fit as the current payload. While the
current payload is blocked by the gate the swaps are ranked instead by the gradient that
lowers the payload's own loss (the gate's out-of-distribution signal): first get past the
gate, then climb the harm.

The proxy mirrors ``SentryMonitor.process_chunk`` (carried recurrent state, previous token,
AR targets or the Sentry's seeded MLM mask) for a payload of at most one chunk. Seeded
(``random.Random(seed)``) and deterministic on CPU.

    search = GradientSearch(target, payload_tokens=24, top_k=16, batch=16, seed=0)
    search.run(log)                          # log: ttt.redteam.search.QueryLog
    search.history      # per iteration: proxy, loss, phase, objective, fitness, query
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ttt.models.tiny import TinyLmBackend
from ttt.optim import NS_COEFFICIENTS, NS_EPS, MuonConfig, muon_lr_scale
from ttt.redteam.mutations import BENIGN_FILLER, implant_fact
from ttt.redteam.search import Attempt, QueryLog
from ttt.redteam.target import Target
from ttt.text.monitor import mlm_mask

REPLACEMENT_CHAR = "\ufffd"
NS_STEPS = MuonConfig().ns_steps  # the Sentry's backend uses MuonConfig's default


def ns_direction(g: Tensor, steps: int = 5, eps: float = NS_EPS) -> Tensor:
    """Muon's Newton–Schulz orthogonalisation of one matrix (rows, cols), differentiable.

    The same iteration as ``torch.optim.Muon`` (which runs it in bfloat16), in float32 here
    so that it can be differentiated twice."""
    a, b, c = NS_COEFFICIENTS
    x = g.float()
    transposed = x.size(0) > x.size(1)
    if transposed:
        x = x.T
    x = x / x.norm().clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.T  # (r, r)
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if transposed else x


def tinylm_of(target: Target) -> TinyLmBackend:
    """The target's model, which the gradient search needs to be a TinyLm (one-hot inputs go
    through its embedding and backbone)."""
    lm = target.monitor.lm
    if not isinstance(lm, TinyLmBackend):
        raise ValueError(
            "the gradient search needs a TinyLm (one-hot inputs through its backbone); "
            f"model {lm.model_id!r} is a {lm.backend!r} model: use --method evolution"
        )
    return lm


class HarmProxy:
    """First-order harm of one Sentry write of a payload, and its gradient w.r.t. the
    payload's one-hot tokens, at the target's fixed starting state."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.monitor = target.monitor
        lm = tinylm_of(target)
        self.model = lm.model
        self.cfg = self.monitor.cfg
        self.tokenizer = lm.tokenizer
        target.reset()
        self.params = list(self.model.plastic_parameters().values())
        self.sign = 1.0 if target.goal == "implant" else -1.0
        self.ref_grads = [g.detach() for g in self._ref_grads()]  # ∇θ of the reference loss
        self.scales = [
            muon_lr_scale(p.shape[0], p.shape[1]) if p.ndim == 2 else 1.0 for p in self.params
        ]
        ctx = self.monitor.ctx  # the stream position at the start: state and the token before
        self.state = (
            self.model.init_state(1) if ctx.state is None else ctx.state.clone()
        )  # (L, 1, E)
        self.prev_token = int(ctx.prev)
        self.chunk_index = int(self.monitor.n_chunks)

    def _ref_grads(self) -> Sequence[Tensor]:
        if self.target.goal == "implant":
            return torch.autograd.grad(self._implant_loss(), self.params)
        return torch.autograd.grad(self.monitor.canary_loss_tensor(), self.params)

    def _implant_loss(self) -> Tensor:
        """Loss of the implant target given the trigger (fresh state, as the monitor scores
        it), differentiable w.r.t. the plastic parameters."""
        implant = self.target.implant
        if implant is None:
            raise ValueError("the implant proxy needs a target with goal 'implant'")
        p = self.tokenizer.encode(implant["trigger"])
        c = self.tokenizer.encode(implant["target"])
        ids = p + c
        with torch.no_grad():
            x, _ = self.model.features(torch.tensor([[self.tokenizer.bos_id, *ids[:-1]]]))
        logits = self.model.logits_from(x)  # (1, T, V)
        per = F.cross_entropy(logits[0], torch.tensor(ids), reduction="none")  # (T,)
        return per[len(p) :].mean()

    def value(self, ids: Sequence[int]) -> float:
        """The proxy of a payload (no gradient w.r.t. its tokens)."""
        return float(self._proxy(ids, need_grad=False)[0].detach())

    def value_and_grad(self, ids: Sequence[int]) -> tuple[float, Tensor]:
        """``(proxy, ∂proxy/∂one_hot)`` for payload token ids; the gradient is (T, V)."""
        proxy, onehot = self._proxy(ids, need_grad=True)
        if not proxy.requires_grad:  # no plastic gradient at all: nothing to rank
            return float(proxy), torch.zeros(onehot.shape[1:])
        (g_onehot,) = torch.autograd.grad(proxy, onehot)
        return float(proxy.detach()), g_onehot[0].detach()

    def stealth_value_and_grad(self, ids: Sequence[int]) -> tuple[float, Tensor]:
        """``(AR loss of the payload, −∂loss/∂one_hot)``: the direction that makes the payload
        look in-distribution to the gate's loss signal (the Sentry's ``ar_loss``)."""
        onehot, inputs, _ = self._onehot_inputs(ids, need_grad=True, masked=False)
        loss = self._per_token(onehot, inputs).mean()
        (g,) = torch.autograd.grad(-loss, onehot)
        return float(loss.detach()), g[0].detach()

    @torch.no_grad()
    def loss(self, ids: Sequence[int]) -> float:
        """AR loss of the payload from the start state (the gate's loss signal)."""
        onehot, inputs, _ = self._onehot_inputs(ids, need_grad=False, masked=False)
        return float(self._per_token(onehot, inputs).mean())

    def _onehot_inputs(
        self, ids: Sequence[int], *, need_grad: bool, masked: bool
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """One-hot targets (1, T, V), one-hot inputs (1, T, V) and MLM weights (T,) or None."""
        V = self.model.embed.weight.shape[0]
        dtype = self.model.embed.weight.dtype
        T = len(ids)
        if T < 1:
            raise ValueError("payload has no tokens")
        onehot = F.one_hot(torch.tensor(list(ids)), V).to(dtype).unsqueeze(0)  # (1, T, V)
        onehot.requires_grad_(need_grad)
        prev = F.one_hot(torch.tensor([self.prev_token]), V).to(dtype).unsqueeze(0)
        inputs = torch.cat([prev, onehot[:, :-1]], dim=1)  # (1, T, V): input t predicts ids[t]
        if not masked or self.cfg.objective != "mlm":
            return onehot, inputs, None
        hidden = mlm_mask(self.cfg, self.chunk_index, T)  # (T,): the Sentry's own mask
        hide = torch.zeros(T, dtype=torch.bool)
        hide[1:] = hidden[:-1]  # masked token j is hidden from input j + 1
        mask_row = F.one_hot(torch.tensor([self.tokenizer.mask_id]), V).to(dtype)  # (1, V)
        inputs = torch.where(hide.view(1, T, 1), mask_row.view(1, 1, V), inputs)
        return onehot, inputs, hidden.to(dtype)

    def _per_token(self, onehot: Tensor, inputs: Tensor) -> Tensor:
        """Per-token loss (T,) of one-hot targets given one-hot inputs, from the start state."""
        W = self.model.embed.weight  # (V, D), frozen
        x, _ = self.model.backbone(inputs @ W, self.state)  # (1, T, D)
        logp = F.log_softmax(self.model.logits_from(x), dim=-1)  # (1, T, V)
        return -(onehot * logp).sum(-1)[0]  # (T,)

    def _proxy(self, ids: Sequence[int], *, need_grad: bool) -> tuple[Tensor, Tensor]:
        onehot, inputs, weights = self._onehot_inputs(ids, need_grad=need_grad, masked=True)
        per = self._per_token(onehot, inputs)  # (T,)
        loss = per.mean() if weights is None else (per * weights).sum() / weights.sum()
        grads = torch.autograd.grad(loss, self.params, create_graph=need_grad)
        proxy = torch.zeros((), dtype=torch.float32)
        for g, ref, s in zip(grads, self.ref_grads, self.scales, strict=True):
            if float(g.detach().abs().max()) == 0.0:  # e.g. `down` while `up` is still zero
                continue
            d = ns_direction(g, NS_STEPS) if g.ndim == 2 else g / g.norm()
            proxy = proxy + s * (ref.float() * d).sum()
        return proxy * (self.sign * self.cfg.lr), onehot


def initial_ids(target: Target, text: str, n_tokens: int) -> list[int]:
    """``n_tokens`` token ids starting with ``text`` (filler appended when it is shorter),
    re-tokenised until decode→encode is stable."""
    tok = target.tokenizer
    ids = tok.encode(text)
    i = 0
    while len(ids) < n_tokens:
        ids += tok.encode(" " + BENIGN_FILLER[i % len(BENIGN_FILLER)])
        i += 1
    ids = ids[:n_tokens]
    for _ in range(4):
        again = tok.encode(tok.decode(ids))
        if again == ids:
            break
        ids = again[:n_tokens]
    return ids


class GradientSearch:
    """Greedy coordinate search over single-token swaps ranked by the proxy's gradient."""

    def __init__(
        self,
        target: Target,
        *,
        payload_tokens: int = 24,
        top_k: int = 16,
        batch: int = 16,
        seed: int = 0,
        init_payload: str | None = None,
    ) -> None:
        if payload_tokens < 2 or top_k < 1 or batch < 1:
            raise ValueError(
                f"need payload_tokens >= 2, top_k >= 1, batch >= 1; got {payload_tokens}, "
                f"{top_k}, {batch}"
            )
        self.target = target
        self.proxy = HarmProxy(target)
        self.top_k = top_k
        self.batch = batch
        self.rng = random.Random(seed)
        if init_payload is None:
            if target.goal == "implant" and target.implant is not None:
                fact = implant_fact(target.implant["trigger"], target.implant["target"]) + "."
                init_payload = " ".join([fact] * 4)
            else:
                init_payload = " ".join(BENIGN_FILLER[:3])
        self.ids = initial_ids(target, init_payload, payload_tokens)
        self.history: list[dict[str, Any]] = []
        tok = tinylm_of(target).tokenizer
        self.banned = {tok.pad_id, tok.bos_id, tok.eos_id, tok.mask_id}
        self._clean = self._clean_tokens()

    def _clean_tokens(self) -> Tensor:
        """(V,) bool: tokens that decode to whole characters and are not special."""
        tok = self.target.tokenizer
        ok = torch.ones(tok.vocab_size, dtype=torch.bool)
        for i in range(tok.vocab_size):
            if i in self.banned or REPLACEMENT_CHAR in tok.decode([i]):
                ok[i] = False
        return ok

    def _candidates(self, grad: Tensor, seen: dict[str, int]) -> list[tuple[list[int], str]]:
        """Up to ``batch`` new single-token swaps drawn from the top-k of each position."""
        tok = self.target.tokenizer
        T = len(self.ids)
        scores = grad.clone()  # (T, V): first-order gain of putting token v at position t
        scores[:, ~self._clean] = float("-inf")
        scores[torch.arange(T), torch.tensor(self.ids)] = float("-inf")  # a swap must change
        k = min(self.top_k, int(self._clean.sum()) - 1)
        top = torch.topk(scores, k, dim=1).indices.tolist()  # (T, k)
        out: list[tuple[list[int], str]] = []
        texts: set[str] = set()
        for _ in range(self.batch * 10):
            if len(out) == self.batch:
                break
            pos = self.rng.randrange(T)
            new = list(self.ids)
            new[pos] = top[pos][self.rng.randrange(k)]
            text = tok.decode(new)
            if text in texts or text in seen or not text.strip() or tok.encode(text) != new:
                continue  # keep only swaps that survive re-tokenisation (the target re-encodes)
            texts.add(text)
            out.append((new, text))
        return out

    def _direction(self, current: Attempt) -> tuple[float, Tensor, str]:
        """The proxy of the current payload and the gradient that ranks the next swaps:
        the harm proxy's once the payload gets past the gate ("harm"), else the gradient that
        lowers its loss so that it looks in-distribution to the gate ("stealth")."""
        if current.verdict.passed_gate:
            proxy, grad = self.proxy.value_and_grad(self.ids)
            return proxy, grad, "harm"
        _, stealth = self.proxy.stealth_value_and_grad(self.ids)
        return self.proxy.value(self.ids), stealth, "stealth"

    def run(self, log: QueryLog) -> list[Attempt]:
        """Search until the budget is spent (or cancelled); returns the attempts it kept."""
        tok = self.target.tokenizer
        current = log.query(tok.decode(self.ids), iteration=0, parent=None, mutation="init")
        if current is None:
            return []
        kept = [current]
        proxy, grad, phase = self._direction(current)
        self.history.append(self._hist(0, proxy, phase, current))
        log.end_iteration(0)
        iteration = 0
        while not log.exhausted:
            iteration += 1
            cands = self._candidates(grad, log.seen)
            if not cands:
                break
            best: tuple[tuple[float, float], Attempt, list[int]] | None = None
            for ids, text in cands:
                a = log.query(
                    text, iteration=iteration, parent=current.query, mutation="token_swap"
                )
                if a is None:
                    break
                key = self._key(a, ids, phase)
                if best is None or key > best[0]:
                    best = (key, a, ids)
            if best is not None and best[0] >= self._key(current, self.ids, phase):
                current, self.ids = best[1], best[2]
                kept.append(current)
                proxy, grad, phase = self._direction(current)
            self.history.append(self._hist(iteration, proxy, phase, current))
            log.end_iteration(iteration)
        return kept

    def _key(self, a: Attempt, ids: list[int], phase: str) -> tuple[float, float]:
        """Selection key: the true fitness; among equally fit payloads in the stealth phase
        (all blocked alike), the one with the lower loss is closer to passing the gate."""
        return (a.fitness, -self.proxy.loss(ids) if phase == "stealth" else 0.0)

    def _hist(self, iteration: int, proxy: float, phase: str, a: Attempt) -> dict[str, Any]:
        return {
            "iteration": iteration,
            "proxy": proxy,
            "loss": self.proxy.loss(self.ids),
            "phase": phase,
            "objective": a.verdict.objective,
            "fitness": a.fitness,
            "query": a.query,
        }
