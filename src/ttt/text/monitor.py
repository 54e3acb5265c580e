"""The Sentry monitor: one model's fast weights under the defences, fed chunk by chunk.

Used by Sentry runs (``ttt.text.sentry``), chat turns (``ttt.text.chat``), the poisoning
benchmark and the red team. It speaks only the model protocol (``ttt.models.protocol``), so it
runs on TinyLm (context-net fast weights) and on HF causal LMs (LoRA fast weights) alike.

For every chunk it measures the write before it happens (loss, gradient norm = write
pressure, its robust z, compression ratio, alignment of the chunk's gradient with the canary
gradients, per-token influence), asks the gate, and hands the write to the engine transaction
(``ttt.engine``): optimiser step on the fast weights (``torch.optim.Muon`` by default, AdamW
with ``optimizer="adamw"``), SPFW projection of the weight change, canary post-checks, commit
or bit-exact rollback.

Robust statistics are never poisoned by their own inputs: only committed chunks enter the
histories that judge later chunks, and a zero MAD is floored, never divided by.
"""

from __future__ import annotations

import copy
import itertools
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from ttt.engine import (
    ChecksConfig,
    GateDecision,
    StepSizeControl,
    TorchOptimBackend,
    UpdateEngine,
    canary_probe_dict,
    finite_or_none,
    flatten_canary_grads,
)
from ttt.models.protocol import Example, FastWeightLm, chat_prompt, weighted_mean
from ttt.models.reference import buffer_examples, chunk_reference, reference_z
from ttt.safety.canary import default_canaries
from ttt.safety.gate import Gate, GateConfig
from ttt.store import ArtifactStore
from ttt.text.sentry_config import (
    OBJECTIVES,
    OPTIMIZERS,
    SAFETY_MODES,
    THROTTLED_COMMIT,
    Chunk,
    RobustHistory,
    SentryConfig,
    compression_ratio,
    flat_grads,
    make_optimizer,
    mlm_mask,
)

__all__ = [
    "OBJECTIVES",
    "OPTIMIZERS",
    "SAFETY_MODES",
    "THROTTLED_COMMIT",
    "Chunk",
    "RobustHistory",
    "SentryConfig",
    "SentryMonitor",
    "compression_ratio",
    "mlm_mask",
]

# ---------------------------------------------------------------------------- the monitor


class SentryMonitor:
    """One model's fast weights under the Sentry's defences; feed it text, get chunk events.

    The monitor owns the model's fast weights (reset to the fresh values at construction);
    the core is frozen. ``ctx`` is the stream position (a fresh document at the start)."""

    def __init__(
        self,
        lm: FastWeightLm,
        cfg: SentryConfig,
        *,
        store: ArtifactStore | None = None,
        reference: str = "reference",
    ) -> None:
        self.lm = lm
        self.cfg = cfg
        self.tokenizer = lm.tokenizer
        lm.for_writing()
        self.plastic: dict[str, Tensor] = lm.plastic()
        self.load_fast_weights(lm.initial_plastic())
        self.canary_texts = list(cfg.canaries) if cfg.canaries else list(default_canaries())
        self._canary = [self._prepare_text(t) for t in self.canary_texts]
        for rc in cfg.refusal_canaries or []:  # after the text canaries, in config order
            self._canary.append(self.lm.prepare(self._reply_example(rc["prompt"], rc["reply"])))
            self.canary_texts.append(f"[refusal] {rc['prompt']} -> {rc['reply']}")
        self._chunk_canary_grads: dict[str, Tensor] = {}  # set per chunk by process_chunk
        # The OOD reference of what this monitor writes: stream chunks ("reference") or chat
        # messages ("chat_reference"; models without one use the stream reference).
        self.reference = (
            lm.meta.get(reference) or lm.meta.get("reference") or self._reference(store)
        )
        backend = TorchOptimBackend(self.plastic, make_optimizer(cfg, list(self.plastic.values())))
        self.engine = UpdateEngine(
            backend,
            self._checks(),
            step_size=StepSizeControl(lr=cfg.lr, lr_min=min(cfg.lr, 1e-5), lr_max=cfg.lr),
            steps_per_update=cfg.steps_per_update,
            loss_key="canary_loss",
            projection=self._projection(),
        )
        self._fresh_engine = self.engine.state_dict()  # what reset_write_state() returns to
        self.gate_stream = self._gate_stream()
        self.grad_hist = RobustHistory()
        self.update_hist = RobustHistory()
        self.ctx: Any = lm.fresh_ctx()
        self.n_chunks = 0
        self.n_tokens = 0

    # -- construction helpers ------------------------------------------------------------
    def _checks(self) -> ChecksConfig:
        if not self.cfg.rollback_on:
            return ChecksConfig()
        from ttt.engine.checks import CanaryDelta, CanaryRobustZ, GradNormRobustZ

        return ChecksConfig(
            pre=[GradNormRobustZ(z_max=self.cfg.grad_z)],
            post=[
                CanaryDelta(max_delta=self.cfg.canary_max_delta),
                CanaryRobustZ(z_max=self.cfg.canary_z),
            ],
        )

    def _projection(self) -> Any:
        if not self.cfg.spfw_on:
            return None
        from ttt.safety.spfw import SpfwConfig, SpfwProjection

        # The canary gradients at the pre-step weights were already taken for this chunk's
        # signals (process_chunk); SPFW projects against the same ones.
        return SpfwProjection(
            SpfwConfig(mode=self.cfg.spfw_mode, slack=self.cfg.spfw_slack),
            lambda: self._chunk_canary_grads,
        )

    def _gate_stream(self) -> Any:
        if not self.cfg.gate_on:
            return None
        return Gate(GateConfig().with_overrides(self.cfg.gate)).stream()

    def _reference(self, store: ArtifactStore | None) -> dict[str, Any] | None:
        """Older TinyLm models lack ``meta['reference']``: measure it on their val split."""
        from ttt.models import registry
        from ttt.models.corpus import TokenBuffer

        if store is None or self.lm.backend != "tinylm":
            return None
        try:
            d = registry.model_dir(store, self.lm.model_id)
            buf = TokenBuffer.open(d, "val")
            if len(buf) <= self.cfg.chunk_tokens + 1:
                return None
            return chunk_reference(
                self.lm,
                buffer_examples(buf, chunk_tokens=self.cfg.chunk_tokens),
                chunk_tokens=self.cfg.chunk_tokens,
            )
        except (OSError, ValueError, registry.StoreError):
            return None

    def _prepare_text(self, text: str) -> Any:
        ids = self.tokenizer.encode(text)
        if len(ids) < 2:
            raise ValueError(f"text {text!r} has fewer than two tokens")
        return self.lm.prepare(Example(ids=ids))

    # -- losses ------------------------------------------------------------------------------
    def _loss(self, prep: Any) -> Tensor:
        return weighted_mean(self.lm.token_losses(prep), getattr(prep, "weights", None))

    def canary_loss_tensor(self) -> Tensor:
        """Mean canary loss, differentiable w.r.t. the plastic parameters."""
        return torch.stack([self._loss(p) for p in self._canary]).mean()

    @torch.no_grad()
    def canary_losses(self) -> Tensor:
        """(k,) per-canary mean token loss under the current fast weights."""
        return self.lm.example_losses(self._canary).double().cpu()

    def _canary_grads_batched(self) -> dict[str, Tensor]:
        """{name: (1, k, *shape)} canary gradients at the current weights (for SPFW)."""
        return {n: g.detach().unsqueeze(0) for n, g in self.lm.batch_grads(self._canary).items()}

    def loss_on(self, text: str) -> float:
        """Mean next-token loss of ``text`` (a fresh document) under the fast weights."""
        with torch.no_grad():
            return float(self._loss(self._prepare_text(text)))

    def continuation_loss(self, prompt: str, continuation: str) -> float:
        """Mean loss of ``continuation``'s tokens given ``prompt`` (a fresh document)."""
        p, c = self.tokenizer.encode(prompt), self.tokenizer.encode(continuation)
        if not c:
            raise ValueError("continuation has no tokens")
        if not p:
            raise ValueError("prompt has no tokens")
        w = torch.zeros(len(p) + len(c))
        w[len(p) :] = 1.0
        with torch.no_grad():
            return float(self._loss(self.lm.prepare(Example(ids=p + c, weights=w))))

    def _reply_example(self, prompt: str, reply: str) -> Example:
        """``reply`` as the answer to the user message ``prompt`` (chat template, a fresh
        context), weighted on the reply's tokens only."""
        p, c = chat_prompt(self.lm, prompt), self.tokenizer.encode(reply)
        if not c:
            raise ValueError("reply has no tokens")
        w = torch.zeros(len(p) + len(c))
        w[len(p) :] = 1.0
        return Example(ids=p + c, weights=w)

    def reply_loss(self, prompt: str, reply: str) -> float:
        """Mean loss of ``reply``'s tokens as the model's answer to the user message
        ``prompt`` (its chat template, a fresh context; TinyLm: ``continuation_loss``)."""
        with torch.no_grad():
            return float(self._loss(self.lm.prepare(self._reply_example(prompt, reply))))

    # -- state --------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Fast weights, optimiser, engine, histories, gate carry and stream position."""
        return {
            "backend": self.engine.backend.snapshot(),
            "engine": {k: v.clone() for k, v in self.engine.state_dict().items()},
            "grad_hist": list(self.grad_hist.values),
            "update_hist": list(self.update_hist.values),
            "gate": copy.deepcopy(self.gate_stream),
            "ctx": self.ctx,  # contexts are immutable values
            "n_chunks": self.n_chunks,
            "n_tokens": self.n_tokens,
        }

    def restore(self, snap: Mapping[str, Any]) -> None:
        self.engine.backend.restore(snap["backend"], torch.ones(1, dtype=torch.bool))
        self.engine.load_state_dict(snap["engine"])
        self.grad_hist.values = list(snap["grad_hist"])
        self.update_hist.values = list(snap["update_hist"])
        self.gate_stream = copy.deepcopy(snap["gate"])
        self.ctx = snap["ctx"]
        self.n_chunks = snap["n_chunks"]
        self.n_tokens = snap["n_tokens"]

    def new_document(self) -> None:
        """Start reading a fresh document: fresh stream context and gate carry."""
        self.ctx = self.lm.fresh_ctx()
        if self.gate_stream is not None:
            self.gate_stream.reset()

    # -- persistence (chat sessions keep a monitor's write state on disk) -----------------
    def fast_weights(self) -> dict[str, Tensor]:
        """Clones of the plastic tensors (on the CPU)."""
        return {n: p.detach().to("cpu", copy=True) for n, p in self.plastic.items()}

    @torch.no_grad()
    def load_fast_weights(self, weights: Mapping[str, Tensor]) -> None:
        """Copy stored fast weights in; a missing, extra or mis-shaped tensor is an error."""
        if set(weights) != set(self.plastic):
            missing = sorted(set(self.plastic) - set(weights))[:3]
            extra = sorted(set(weights) - set(self.plastic))[:3]
            raise ValueError(
                f"fast weights do not fit the model: missing {missing}, unexpected {extra}"
            )
        for n, p in self.plastic.items():
            if weights[n].shape != p.shape:
                raise ValueError(
                    f"fast weight {n!r} has shape {tuple(weights[n].shape)}, the model expects "
                    f"{tuple(p.shape)}"
                )
            p.copy_(weights[n])

    def state_tensors(self) -> dict[str, Tensor]:
        """The write state as tensors: optimiser state of the fast weights
        (``optim.<param>.<key>``, e.g. the Muon momentum) and the engine's state
        (``engine.<key>``: lr, attempt counter, committed-value histories)."""
        out = {f"optim.{k}": v.to("cpu") for k, v in self.engine.backend.optimizer_state().items()}
        out.update({f"engine.{k}": v.clone() for k, v in self.engine.state_dict().items()})
        return out

    def load_state_tensors(self, tensors: Mapping[str, Tensor]) -> None:
        """Inverse of ``state_tensors`` (optimiser entries absent from ``tensors`` are
        cleared, so a state without momentum loads as "no momentum yet")."""
        dev = self.lm.device
        optim = {
            k[len("optim.") :]: v.to(dev) for k, v in tensors.items() if k.startswith("optim.")
        }
        engine = {k[len("engine.") :]: v for k, v in tensors.items() if k.startswith("engine.")}
        unknown = sorted(k for k in tensors if not k.startswith(("optim.", "engine.")))
        if unknown:
            raise ValueError(f"unknown write-state tensors {unknown} (expected optim.*, engine.*)")
        self.engine.backend.load_optimizer_state(optim)
        self.engine.load_state_dict(engine)

    def state_record(self) -> dict[str, Any]:
        """The small non-tensor write state: the monitor's committed histories and counters."""
        return {
            "grad_hist": list(self.grad_hist.values),
            "update_hist": list(self.update_hist.values),
            "n_chunks": self.n_chunks,
            "n_tokens": self.n_tokens,
        }

    def load_state_record(self, rec: Mapping[str, Any]) -> None:
        """Inverse of ``state_record``."""
        self.grad_hist.values = [float(v) for v in rec["grad_hist"]]
        self.update_hist.values = [float(v) for v in rec["update_hist"]]
        self.n_chunks = int(rec["n_chunks"])
        self.n_tokens = int(rec["n_tokens"])

    def reset_write_state(self) -> None:
        """Forget every write: no optimiser state, a fresh engine (lr, counter, histories) and
        empty monitor histories. The fast weights and the chunk counters are left alone."""
        self.engine.backend.load_optimizer_state({})
        self.engine.load_state_dict(self._fresh_engine)
        self.grad_hist.values = []
        self.update_hist.values = []

    # -- chunking -----------------------------------------------------------------------
    def chunks(self, text: str) -> list[Chunk]:
        ids, offsets = self.tokenizer.encode_with_offsets(text)
        n = self.cfg.chunk_tokens
        bounds = [*range(0, len(ids), n), len(ids)]
        if len(bounds) > 2 and bounds[-1] - bounds[-2] < max(1, n // 4):
            # A tail of a few tokens joins the chunk before it: a mean loss over one or two
            # tokens is so noisy that its gradient norm would look like an attack.
            del bounds[-2]
        out = []
        for s, e in itertools.pairwise(bounds):
            a, b = offsets[s][0], offsets[e - 1][1]
            out.append(Chunk(ids[s:e], text[a:b], s, e, a, b))
        return out

    def process_text(self, text: str) -> list[dict[str, Any]]:
        return list(self.iter_text(text))

    def iter_text(self, text: str) -> Iterator[dict[str, Any]]:
        for ch in self.chunks(text):
            yield self.process_chunk(ch, keep_text=False)

    # -- one chunk ----------------------------------------------------------------------
    def _z(self, value: float, ref_key: str) -> float | None:
        return reference_z(value, (self.reference or {}).get(ref_key))

    def stream_example(self, ch: Chunk) -> tuple[Example, Example | None]:
        """The chunk as read from the stream: the objective's example and, for MLM, the plain
        next-token example (for the AR signals and the stream context)."""
        if self.cfg.objective != "mlm":
            return Example(ids=ch.ids, ctx=self.ctx), None
        masked = mlm_mask(self.cfg, self.n_chunks, len(ch.ids))  # (T,)
        inputs = [self.lm.mask_id if bool(m) else i for i, m in zip(ch.ids, masked, strict=True)]
        obj = Example(ids=ch.ids, ctx=self.ctx, inputs=inputs, weights=masked.float())
        return obj, Example(ids=ch.ids, ctx=self.ctx)

    def process_chunk(
        self,
        ch: Chunk,
        *,
        keep_text: bool = False,
        examples: Sequence[Example] | None = None,
        span: tuple[int, int] | None = None,
    ) -> dict[str, Any]:
        """Measure, gate and transact one chunk; returns its event record.

        By default the chunk is read from the stream (``ctx``) under the config's objective.
        A caller may instead give the ``examples`` to write (chat: the message inside its
        chat template, possibly with more examples built from it); ``examples[0]`` is the
        chunk itself and ``span`` the [start, end) of the chunk's ids inside it (for the
        per-token influence). The write loss is the mean of the examples' losses."""
        cfg = self.cfg
        t0 = time.perf_counter()
        idx = self.n_chunks
        ar_ex: Example | None = None
        if examples is None:
            obj_ex, ar_ex = self.stream_example(ch)
            examples = [obj_ex]
            span = (0, len(ch.ids))
        if span is None:
            span = (0, len(examples[0].ids))
        preps = [self.lm.prepare(e) for e in examples]
        ar_prep = self.lm.prepare(ar_ex) if ar_ex is not None else None

        # Signals of the write before it happens.
        t_grad = time.perf_counter()
        loss0, grads0, infl0 = self.lm.write_signals(preps[0])
        influence = infl0[span[0] : span[1]]
        if len(preps) > 1:  # the write's own gradient: the mean over its examples
            total = self.lm.example_losses(preps).mean()
            params = list(self.plastic.values())
            grads = dict(zip(self.plastic, torch.autograd.grad(total, params), strict=True))
            loss_value = float(total.detach())
        else:
            grads, loss_value = grads0, float(loss0)
        g_chunk = flat_grads(grads)
        grad_norm = float(g_chunk.norm())
        if ar_prep is not None:
            ar_loss_t, ar_grads, _ = self.lm.write_signals(ar_prep)
            ar_loss, ar_grad_norm = float(ar_loss_t), float(flat_grads(ar_grads).norm())
        else:
            ar_loss, ar_grad_norm = float(loss0), float(flat_grads(grads0).norm())
        self._chunk_canary_grads = self._canary_grads_batched()  # also SPFW's, this chunk
        g_canary = flatten_canary_grads(self._chunk_canary_grads, self.plastic, 1)[0].mean(0)
        dot = float(g_chunk @ g_canary.to(g_chunk.device))
        denom = float(g_chunk.norm() * g_canary.norm())
        cos = dot / denom if denom > 0 else None
        grad_ms = (time.perf_counter() - t_grad) * 1000

        loss_z = self._z(ar_loss, "loss")
        write_z = self._z(ar_grad_norm, "grad_norm")
        grad_norm_z = self.grad_hist.z(grad_norm)

        # Gate.
        gate_rec: dict[str, Any] | None = None
        gate_ms = 0.0
        throttled = False
        decision: GateDecision | None = None
        if self.gate_stream is not None:
            signals = {
                k: v for k, v in (("loss_z", loss_z), ("grad_norm_z", write_z)) if v is not None
            }
            res = self.gate_stream.check(ch.text, model_signals=signals)
            gate_rec = res.to_dict()
            gate_ms = float(res.latency_ms)
            if not res.allowed and cfg.throttle:
                throttled = True
            else:
                decision = GateDecision(
                    allowed=torch.tensor([bool(res.allowed)]),
                    reasons=[list(res.reasons)],
                    scores=[dict(res.scores)],
                )

        # The transaction.
        t_up = time.perf_counter()
        saved_lr = self.engine.lr.clone()
        if throttled:
            self.engine.lr = self.engine.lr * cfg.throttle_factor

        def loss_fn() -> Tensor:
            return self.lm.example_losses(preps).mean().reshape(1).cpu()

        def probe_fn() -> dict[str, Tensor]:
            return canary_probe_dict(self.canary_losses()[None, :])  # mean and per canary

        result = self.engine.transact(t=idx, loss_fn=loss_fn, probe_fn=probe_fn, gate=decision)
        if throttled:
            self.engine.lr = saved_lr
        ev = result.events[0]
        update_ms = (time.perf_counter() - t_up) * 1000
        committed = bool(result.committed[0])
        status = ev.status
        reasons = list(ev.reasons)
        if throttled and gate_rec is not None:
            reasons = [
                f"gate hit, write throttled ×{cfg.throttle_factor:g}: {r}"
                for r in gate_rec["reasons"]
            ] + reasons
            if committed:
                status = THROTTLED_COMMIT
        update_norm = finite_or_none(ev.update_norm)
        update_norm_z = self.update_hist.z(update_norm)
        if committed:
            self.grad_hist.push(grad_norm)
            self.update_hist.push(update_norm)

        # Carry the stream (contexts never depend on the fast weights).
        nxt = ar_prep if ar_prep is not None else preps[0]
        self.ctx = nxt.next_ctx
        self.n_chunks += 1
        self.n_tokens += len(ch.ids)

        canary_before = finite_or_none(ev.probes_pre.get("canary_loss"))
        canary_after = finite_or_none(ev.probes_post.get("canary_loss")) if ev.probes_post else None
        k = min(cfg.influence_top_k, len(ch.ids), influence.numel())
        top = torch.topk(influence, k).indices.tolist()
        rec: dict[str, Any] = {
            "schema_version": 1,
            "chunk": idx,
            "token_start": self.n_tokens - len(ch.ids),
            "token_end": self.n_tokens,
            "char_start": ch.char_start,
            "char_end": ch.char_end,
            "loss": loss_value,
            "ar_loss": ar_loss,
            "loss_z": finite_or_none(loss_z),
            "write_z": finite_or_none(write_z),
            "grad_norm": finite_or_none(grad_norm),
            "grad_norm_z": finite_or_none(grad_norm_z),
            "update_norm": update_norm,
            "update_norm_z": finite_or_none(update_norm_z),
            "compression_ratio": compression_ratio(ch.text),
            "canary_cos": finite_or_none(cos),
            "canary_dot": finite_or_none(dot),
            "top_tokens": [
                {
                    "token": self.tokenizer.token_str(ch.ids[j]),
                    "pos": j,
                    "score": float(influence[j]),
                }
                for j in top
            ],
            "gate": gate_rec,
            "status": status,
            "committed": committed,
            "reasons": reasons,
            "canary": {
                "before": canary_before,
                "after": canary_after,
                "delta": (canary_after - canary_before)
                if canary_after is not None and canary_before is not None
                else None,
                "z": _canary_z(ev.checks),
            },
            "spfw": ev.projection,
            "checks": ev.checks,
            "lr": ev.lr,  # the lr the write used (throttled included)
            "timing_ms": {
                "gate": gate_ms,
                "grad": grad_ms,
                "update": update_ms,
                "total": (time.perf_counter() - t0) * 1000,
            },
        }
        if keep_text:
            rec["text"] = ch.text
            rec["tokens"] = [self.tokenizer.token_str(i) for i in ch.ids]
            rec["influence"] = [float(v) for v in influence]
        return rec


def _canary_z(checks: Sequence[Mapping[str, Any]]) -> float | None:
    """The robust z of the canary delta, from the ``canary_robust_z`` check's record."""
    for c in checks:
        if c.get("name") == "canary_robust_z":
            v = c.get("score")
            return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None
    return None
