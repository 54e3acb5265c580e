"""Sentry: stream a text through a trained TinyLm chunk by chunk, one guarded write per chunk.

    ttt sentry run --text "..." [--model ID] [--chunk-tokens 128] [--objective ar|mlm]
                   [--safety off|gate|rollback|spfw|all] [--json] [--keep-text]

For every chunk the monitor measures the write before it happens (loss, gradient norm = write
pressure, its robust z, compression ratio, alignment of the chunk's gradient with the canary
gradient, per-token influence), asks the gate, and hands the write to the engine transaction
(``ttt.engine``): Muon step on the context net, SPFW projection of the weight change, canary
post-checks, commit or bit-exact rollback. One event per chunk is stored under
``text_runs/<run_id>/`` (request, events.jsonl, summary.json); the raw text only with
``keep_text``.

Two facts make this cheap: the core (embedding, backbone) is frozen and the context net sits
*after* the backbone, so the recurrent state and the backbone features of a chunk do not
depend on the fast weights. Features are computed once per chunk (and once per canary), and
every loss, gradient and probe afterwards only runs the context net, LayerNorm and head.

Robust statistics are never poisoned by their own inputs: only committed chunks enter the
histories that judge later chunks, and a zero MAD is floored, never divided by.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import math
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ttt.configs import from_dict
from ttt.engine import (
    BLOCKED_GATE,
    ChecksConfig,
    GateDecision,
    StepSizeControl,
    TorchOptimBackend,
    UpdateEngine,
    canary_probe_dict,
    finite_or_none,
    flatten_canary_grads,
)
from ttt.models import registry
from ttt.models.corpus import TokenBuffer
from ttt.models.reference import chunk_reference, reference_z, scalar_robust_z
from ttt.models.registry import LoadedLm
from ttt.models.tokenizer import BOS, MASK, SPECIAL_TOKENS
from ttt.optim import MuonConfig
from ttt.safety.canary import check_canaries, default_canaries
from ttt.safety.gate import Gate, GateConfig
from ttt.store import (
    SCHEMA_VERSION,
    ArtifactStore,
    append_jsonl,
    new_id,
    read_json,
    read_jsonl,
    write_json,
)
from ttt.store.errors import NotFoundError, StoreError

SAFETY_MODES = ("off", "gate", "rollback", "spfw", "all")
OBJECTIVES = ("ar", "mlm")
THROTTLED_COMMIT = "throttled_commit"
RUNNING, COMPLETED, FAILED, CANCELLED = "running", "completed", "failed", "cancelled"

# What the Sentry domain supports, per safety mechanism (rendered into the README's coverage
# matrix by ``ttt.safety.coverage``).
SAFETY_SUPPORT: dict[str, str] = {
    "update_transaction": "yes: one engine transaction per chunk on the context net",
    "gate": "yes: every rule, across chunk boundaries; OOD uses the model's own reference",
    "canary_rollback": "yes: canary set, absolute delta and robust z",
    "grad_alignment": "yes: canary cos/dot, grad norm/z, update z, per-token influence",
    "spfw": "yes: half-space or null-space projection of the weight change",
}


# ---------------------------------------------------------------------------- config


@dataclass
class SentryConfig:
    """Everything a Sentry run depends on; stored whole in ``request.json``.

    ``safety`` picks the defences: ``gate`` (rules before the write), ``rollback`` (canary
    delta and robust-z post-checks, grad-norm robust-z pre-check), ``spfw`` (projection of
    the weight change), ``all`` (the three together), ``off`` (only non-finite values are
    refused)."""

    chunk_tokens: int = 128
    objective: str = "ar"  # "ar" next-token; "mlm" masked tokens predicted from left context
    safety: str = "all"
    lr: float = 0.02
    steps_per_update: int = 1
    mlm_mask_prob: float = 0.15
    seed: int = 0
    gate: dict[str, Any] = field(default_factory=dict)  # GateConfig overrides "rule.field"
    throttle: bool = False  # a gate hit throttles the write (lr × throttle_factor), not blocks
    throttle_factor: float = 0.1
    canary_max_delta: float = 0.05  # absolute canary-loss rise allowed per write (nats)
    canary_z: float = 6.0  # robust z of the canary delta against committed writes
    grad_z: float = 8.0  # robust z of the grad norm against committed writes (pre-check)
    spfw_mode: str = "halfspace"
    spfw_slack: float = 0.0
    canaries: list[str] | None = None  # None = ttt.safety.canary's default set
    influence_top_k: int = 8

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"SentryConfig.{name} {why}, got {getattr(self, name)!r}")

        for name in ("chunk_tokens", "steps_per_update", "influence_top_k"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise bad(name, "must be an int >= 1")
        if self.chunk_tokens < 2 or self.chunk_tokens > 4096:
            raise bad("chunk_tokens", "must be in [2, 4096]")
        if self.objective not in OBJECTIVES:
            raise bad("objective", f"must be one of {OBJECTIVES}")
        if self.safety not in SAFETY_MODES:
            raise bad("safety", f"must be one of {SAFETY_MODES}")
        for name in ("lr", "throttle_factor", "canary_max_delta", "canary_z", "grad_z"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise bad(name, "must be a finite number")
            if v <= 0:
                raise bad(name, "must be > 0")
        if not 0.0 < self.mlm_mask_prob < 1.0:
            raise bad("mlm_mask_prob", "must be in (0, 1)")
        if self.throttle_factor > 1:
            raise bad("throttle_factor", "must be in (0, 1]")
        if self.spfw_mode not in ("halfspace", "nullspace"):
            raise bad("spfw_mode", "must be 'halfspace' or 'nullspace'")
        if not (math.isfinite(self.spfw_slack) and self.spfw_slack >= 0):
            raise bad("spfw_slack", "must be a finite number >= 0")
        if not isinstance(self.gate, dict):
            raise bad("gate", "must be an object of 'rule.field': value overrides")
        try:
            GateConfig().with_overrides(self.gate)  # unknown rule or bad threshold
        except ValueError as e:
            raise ValueError(f"SentryConfig.gate: {e}") from e
        if self.canaries is not None:
            if not isinstance(self.canaries, list):
                raise bad("canaries", "must be null or a list of strings")
            check_canaries(self.canaries, "SentryConfig.canaries")

    @property
    def gate_on(self) -> bool:
        return self.safety in ("gate", "all")

    @property
    def rollback_on(self) -> bool:
        return self.safety in ("rollback", "all")

    @property
    def spfw_on(self) -> bool:
        return self.safety in ("spfw", "all")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SentryConfig:
        return from_dict(cls, d, "SentryConfig")


# ---------------------------------------------------------------------------- statistics


class RobustHistory:
    """Median/MAD z-scores against a bounded history of values from committed writes."""

    def __init__(self, capacity: int = 256, min_count: int = 4) -> None:
        self.values: list[float] = []
        self.capacity = capacity
        self.min_count = min_count

    def z(self, v: float | None) -> float | None:
        if v is None or not math.isfinite(v) or len(self.values) < self.min_count:
            return None
        t = torch.tensor(self.values, dtype=torch.float64)
        med = float(t.median())
        return scalar_robust_z(v, med, float((t - med).abs().median()))

    def push(self, v: float | None) -> None:
        if v is not None and math.isfinite(v):
            self.values.append(float(v))
            del self.values[: -self.capacity]


def compression_ratio(text: str) -> float:
    """zlib-compressed size / raw size of the UTF-8 bytes (low = repetitive)."""
    raw = text.encode("utf-8", "surrogatepass")
    if not raw:
        return 1.0
    return len(zlib.compress(raw, 9)) / len(raw)


def _flat(grads: Sequence[Tensor]) -> Tensor:
    return torch.cat([g.reshape(-1).double() for g in grads])


# ---------------------------------------------------------------------------- the monitor


@dataclass
class _Chunk:
    ids: list[int]
    text: str
    token_start: int
    token_end: int
    char_start: int
    char_end: int


class SentryMonitor:
    """One model's fast weights under the Sentry's defences; feed it text, get chunk events.

    The monitor owns ``lm.model``'s context net (reset at construction); the core is frozen."""

    def __init__(
        self, lm: LoadedLm, cfg: SentryConfig, *, store: ArtifactStore | None = None
    ) -> None:

        self.lm = lm
        self.cfg = cfg
        self.model = lm.model
        self.tokenizer = lm.tokenizer
        self.model.eval()
        self.model.freeze_core()
        self.model.reset_context()
        self.plastic: dict[str, Tensor] = dict(self.model.plastic_parameters())
        self.bos = SPECIAL_TOKENS.index(BOS)  # the tokenizer pins specials to ids 0-3
        self.mask_id = SPECIAL_TOKENS.index(MASK)
        self.canary_texts = list(cfg.canaries) if cfg.canaries else list(default_canaries())
        self._canary = [self._text_features(t) for t in self.canary_texts]
        self._chunk_canary_grads: dict[str, Tensor] = {}  # set per chunk by process_chunk
        self.reference = lm.meta.get("reference") or self._reference(store)
        backend = TorchOptimBackend.muon(self.plastic, MuonConfig(lr=cfg.lr))
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
        self.state = self.model.init_state(1)
        self.prev_token = self.bos
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
        """Older models lack ``meta['reference']``: measure it on their stored val split."""
        if store is None:
            return None
        try:
            d = registry.model_dir(store, self.lm.model_id)
        except NotFoundError:
            return None
        try:
            buf = TokenBuffer.open(d, "val")
            if len(buf) <= self.cfg.chunk_tokens + 1:
                return None
            return chunk_reference(self.model, buf, chunk_tokens=self.cfg.chunk_tokens)
        except (OSError, ValueError):
            return None

    # -- features and losses (only the context net, LayerNorm and head carry gradients) ----
    @torch.no_grad()
    def _features(self, inputs: list[int], state: Tensor) -> tuple[Tensor, Tensor]:
        x, new_state = self.model.features(torch.tensor([inputs], dtype=torch.long), state)
        return x, new_state  # (1, T, D), state

    def _text_features(self, text: str) -> tuple[Tensor, Tensor]:
        ids = self.tokenizer.encode(text)
        if not ids:
            raise ValueError(f"canary text {text!r} has no tokens")
        x, _ = self._features([self.bos, *ids[:-1]], self.model.init_state(1))
        return x, torch.tensor([ids], dtype=torch.long)

    def _ce(self, x: Tensor, y: Tensor, w: Tensor | None = None) -> Tensor:
        logits = self.model.logits_from(x)  # (1, T, V)
        per = F.cross_entropy(logits[0], y[0], reduction="none")  # (T,)
        if w is None:
            return per.mean()
        return (per * w).sum() / w.sum().clamp(min=1.0)

    def canary_loss_tensor(self) -> Tensor:
        """Mean canary loss, differentiable w.r.t. the plastic parameters."""
        return torch.stack([self._ce(x, y) for x, y in self._canary]).mean()

    @torch.no_grad()
    def canary_losses(self) -> Tensor:
        """(k,) per-canary mean token loss under the current fast weights."""
        return torch.stack([self._ce(x, y) for x, y in self._canary]).double()

    def _canary_grads_batched(self) -> dict[str, Tensor]:
        """{name: (1, k, *shape)} canary gradients at the current weights (for SPFW)."""
        names = list(self.plastic)
        per: dict[str, list[Tensor]] = {n: [] for n in names}
        for x, y in self._canary:
            grads = torch.autograd.grad(self._ce(x, y), [self.plastic[n] for n in names])
            for n, g in zip(names, grads, strict=True):
                per[n].append(g.detach())
        return {n: torch.stack(v).unsqueeze(0) for n, v in per.items()}

    def loss_on(self, text: str) -> float:
        """Mean next-token loss of ``text`` (fresh recurrent state) under the fast weights."""
        x, y = self._text_features(text)
        with torch.no_grad():
            return float(self._ce(x, y))

    def continuation_loss(self, prompt: str, continuation: str) -> float:
        """Mean loss of ``continuation``'s tokens given ``prompt`` (for implant measurements)."""
        p, c = self.tokenizer.encode(prompt), self.tokenizer.encode(continuation)
        if not c:
            raise ValueError("continuation has no tokens")
        ids = p + c
        x, _ = self._features([self.bos, *ids[:-1]], self.model.init_state(1))
        y = torch.tensor([ids], dtype=torch.long)
        w = torch.zeros(len(ids))
        w[len(p) :] = 1.0
        with torch.no_grad():
            return float(self._ce(x, y, w))

    # -- state --------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Fast weights, optimiser, engine, histories, gate carry and stream position."""
        return {
            "backend": self.engine.backend.snapshot(),
            "engine": {k: v.clone() for k, v in self.engine.state_dict().items()},
            "grad_hist": list(self.grad_hist.values),
            "update_hist": list(self.update_hist.values),
            "gate": copy.deepcopy(self.gate_stream),
            "state": self.state.clone(),
            "prev_token": self.prev_token,
            "n_chunks": self.n_chunks,
            "n_tokens": self.n_tokens,
        }

    def restore(self, snap: Mapping[str, Any]) -> None:
        self.engine.backend.restore(snap["backend"], torch.ones(1, dtype=torch.bool))
        self.engine.load_state_dict(snap["engine"])
        self.grad_hist.values = list(snap["grad_hist"])
        self.update_hist.values = list(snap["update_hist"])
        self.gate_stream = copy.deepcopy(snap["gate"])
        self.state = snap["state"].clone()
        self.prev_token = snap["prev_token"]
        self.n_chunks = snap["n_chunks"]
        self.n_tokens = snap["n_tokens"]

    # -- persistence (chat sessions keep a monitor's write state on disk) -----------------
    def fast_weights(self) -> dict[str, Tensor]:
        """Clones of the plastic tensors (``context.down``, ``context.up``)."""
        return {n: p.detach().clone() for n, p in self.plastic.items()}

    @torch.no_grad()
    def load_fast_weights(self, weights: Mapping[str, Tensor]) -> None:
        """Copy stored fast weights in; a missing, extra or mis-shaped tensor is an error."""
        if set(weights) != set(self.plastic):
            raise ValueError(
                f"fast weights must be exactly {sorted(self.plastic)}, got {sorted(weights)}"
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
        out = {f"optim.{k}": v for k, v in self.engine.backend.optimizer_state().items()}
        out.update({f"engine.{k}": v.clone() for k, v in self.engine.state_dict().items()})
        return out

    def load_state_tensors(self, tensors: Mapping[str, Tensor]) -> None:
        """Inverse of ``state_tensors`` (optimiser entries absent from ``tensors`` are
        cleared, so a state without momentum loads as "no momentum yet")."""
        optim = {k[len("optim.") :]: v for k, v in tensors.items() if k.startswith("optim.")}
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
    def chunks(self, text: str) -> list[_Chunk]:
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
            out.append(_Chunk(ids[s:e], text[a:b], s, e, a, b))
        return out

    def process_text(self, text: str) -> list[dict[str, Any]]:
        return list(self.iter_text(text))

    def iter_text(self, text: str) -> Iterator[dict[str, Any]]:
        for ch in self.chunks(text):
            yield self.process_chunk(ch, keep_text=False)

    # -- one chunk ----------------------------------------------------------------------
    def _z(self, value: float, ref_key: str) -> float | None:
        return reference_z(value, (self.reference or {}).get(ref_key))

    def process_chunk(self, ch: _Chunk, *, keep_text: bool = False) -> dict[str, Any]:
        """Measure, gate and transact one chunk; returns its event record."""
        cfg = self.cfg
        t0 = time.perf_counter()
        idx = self.n_chunks
        inputs = [self.prev_token, *ch.ids[:-1]]  # (T,) predicts ch.ids
        y = torch.tensor([ch.ids], dtype=torch.long)  # (1, T)
        x_clean, new_state = self._features(inputs, self.state)
        if cfg.objective == "mlm":
            masked = mlm_mask(cfg, idx, len(ch.ids))  # (T,)
            corrupted = list(inputs)
            for j in torch.nonzero(masked).flatten().tolist():
                if j + 1 < len(corrupted):
                    corrupted[j + 1] = self.mask_id  # the masked token is hidden downstream
            x_obj, _ = self._features(corrupted, self.state)
            w: Tensor | None = masked.float()
        else:
            x_obj, w = x_clean, None

        # Signals of the write before it happens (one backward through the head only).
        params = list(self.plastic.values())
        t_grad = time.perf_counter()
        ctx = self.model.context(x_obj)  # (1, T, D)
        logits = self.model.head(self.model.norm(x_obj + ctx))
        per_tok = F.cross_entropy(logits[0], y[0], reduction="none")  # (T,)
        loss = per_tok.mean() if w is None else (per_tok * w).sum() / w.sum()
        *pgrads, dctx = torch.autograd.grad(loss, [*params, ctx])
        g_chunk = _flat(pgrads)
        grad_norm = float(g_chunk.norm())
        influence = self._influence(x_obj, dctx)  # (T,)
        ar_loss = (
            float(per_tok.detach().mean()) if w is None else float(self._ce(x_clean, y).detach())
        )
        ar_grad_norm = (
            grad_norm
            if w is None
            else float(_flat(torch.autograd.grad(self._ce(x_clean, y), params)).norm())
        )
        self._chunk_canary_grads = self._canary_grads_batched()  # also SPFW's, this chunk
        g_canary = flatten_canary_grads(self._chunk_canary_grads, self.plastic, 1)[0].mean(0)
        dot = float(g_chunk @ g_canary)
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
            return self._ce(x_obj, y, w).reshape(1)

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

        # Carry the stream (the backbone state does not depend on the fast weights).
        self.state = new_state
        self.prev_token = ch.ids[-1]
        self.n_chunks += 1
        self.n_tokens += len(ch.ids)

        canary_before = finite_or_none(ev.probes_pre.get("canary_loss"))
        canary_after = finite_or_none(ev.probes_post.get("canary_loss")) if ev.probes_post else None
        canary_rec: dict[str, Any] = {
            "before": canary_before,
            "after": canary_after,
            "delta": (canary_after - canary_before)
            if canary_after is not None and canary_before is not None
            else None,
            "z": _canary_z(ev.checks),
        }
        k = min(cfg.influence_top_k, len(ch.ids))
        top = torch.topk(influence, k).indices.tolist()
        rec: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "chunk": idx,
            "token_start": self.n_tokens - len(ch.ids),
            "token_end": self.n_tokens,
            "char_start": ch.char_start,
            "char_end": ch.char_end,
            "loss": float(loss.detach()),
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
            "canary": canary_rec,
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

    def _influence(self, x: Tensor, dctx: Tensor) -> Tensor:
        """Per-token influence on the write: the norm of each position's own contribution to
        the plastic gradient (exact: the context net's gradient is a sum of per-position outer
        products, ``δ_t ⊗ (down x_t)`` for ``up`` and ``(upᵀ δ_t) ⊗ x_t`` for ``down``)."""
        with torch.no_grad():
            ctxn = self.model.context
            d = dctx[0].double()  # (T, D)
            xs = x[0].double()  # (T, D)
            z = xs @ ctxn.down.double().T  # (T, r)
            up_part = d.norm(dim=1) * z.norm(dim=1)
            down_part = (d @ ctxn.up.double()).norm(dim=1) * xs.norm(dim=1)
            return torch.sqrt(up_part**2 + down_part**2).float()  # (T,)


def _canary_z(checks: Sequence[Mapping[str, Any]]) -> float | None:
    """The robust z of the canary delta, from the ``canary_robust_z`` check's record."""
    for c in checks:
        if c.get("name") == "canary_robust_z":
            v = c.get("score")
            return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None
    return None


# ---------------------------------------------------------------------------- stored runs


@dataclass
class SentryRunResult:
    run_id: str
    summary: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)  # in memory, with top tokens


def _without_text(rec: dict[str, Any]) -> dict[str, Any]:
    """The stored form of an event when the text is not kept: top tokens keep their
    position and score but not their text (token strings are pieces of the input)."""
    return {
        **rec,
        "top_tokens": [{"pos": t["pos"], "score": t["score"]} for t in rec["top_tokens"]],
    }


def mlm_mask(cfg: SentryConfig, chunk_index: int, n: int) -> Tensor:
    """(n,) bool: the tokens the MLM objective masks in chunk ``chunk_index`` (seeded by the
    config's seed and the chunk index; at least one token)."""
    g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + chunk_index)
    masked = torch.rand(n, generator=g) < cfg.mlm_mask_prob
    if not bool(masked.any()):
        masked[int(torch.randint(n, (1,), generator=g))] = True
    return masked


SUMMARY_EVERY_S = 0.5  # how often a running Sentry rewrites summary.json


def _summary(
    run_id: str, status: str, events: list[dict[str, Any]], n_chunks: int, t0: float
) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for e in events:
        counts[e["status"]] = counts.get(e["status"], 0) + 1
    losses = [e["loss"] for e in events]
    canary = [e["canary"]["before"] for e in events if e["canary"]["before"] is not None]
    last_after = next(
        (
            e["canary"]["after"]
            for e in reversed(events)
            if e["committed"] and e["canary"]["after"] is not None
        ),
        None,
    )
    canary_end = last_after if last_after is not None else (canary[-1] if canary else None)
    committed = sum(1 for e in events if e["committed"])
    blocked = counts.get(BLOCKED_GATE, 0)
    return {
        "run_id": run_id,
        "status": status,
        "n_chunks_done": len(events),
        "n_chunks": n_chunks,
        "counts": counts,
        "committed": committed,
        "blocked": blocked,
        "rolled_back": len(events) - committed - blocked,
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "loss_mean": sum(losses) / len(losses) if losses else None,
        "canary_start": canary[0] if canary else None,
        "canary_end": canary_end,
        "canary_delta_total": (canary_end - canary[0])
        if canary and canary_end is not None
        else None,
        "max_grad_norm": max((e["grad_norm"] or 0.0 for e in events), default=None),
        "duration_s": round(time.perf_counter() - t0, 4),
        "updated_at": registry.now_iso(),
    }


def run_sentry(
    store: ArtifactStore,
    *,
    text: str,
    cfg: SentryConfig | None = None,
    model_id: str | None = None,
    run_id: str | None = None,
    keep_text: bool = False,
    source: str = "text",
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> SentryRunResult:
    """Stream ``text`` through the model under ``cfg`` and store the run (see module doc)."""
    cfg = cfg or SentryConfig()
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text is empty: nothing to monitor")
    lm = registry.load_model(store, model_id)
    monitor = SentryMonitor(lm, cfg, store=store)
    chunks = monitor.chunks(text)
    rid = run_id or new_id("sentry")
    d = store.create_item("text_runs", rid)
    request = {
        "run_id": rid,
        **registry.created_now(),
        "model_id": lm.model_id,
        "model_weights_sha256": lm.meta.get("weights_sha256"),
        "backbone": lm.model.cfg.backbone,
        "objective": cfg.objective,
        "safety": cfg.safety,
        "chunk_tokens": cfg.chunk_tokens,
        "config": cfg.to_dict(),
        "canaries": monitor.canary_texts,
        "reference": monitor.reference,
        "text_sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        "n_chars": len(text),
        "n_tokens": sum(len(c.ids) for c in chunks),
        "n_chunks": len(chunks),
        "keep_text": keep_text,
        "source": source,
    }
    if keep_text:
        request["text"] = text
    write_json(d / "request.json", request)
    t0 = time.perf_counter()
    events: list[dict[str, Any]] = []
    status = RUNNING
    write_json(d / "summary.json", _summary(rid, status, events, len(chunks), t0))
    last_summary = time.perf_counter()
    try:
        for ch in chunks:
            if cancel is not None and cancel():
                status = CANCELLED
                break
            rec = monitor.process_chunk(ch, keep_text=keep_text)
            append_jsonl(d / "events.jsonl", rec if keep_text else _without_text(rec))
            events.append(rec)
            # The live summary, at most every SUMMARY_EVERY_S (the final one is always written).
            if time.perf_counter() - last_summary >= SUMMARY_EVERY_S:
                write_json(d / "summary.json", _summary(rid, status, events, len(chunks), t0))
                last_summary = time.perf_counter()
            if progress is not None:
                progress(len(events), len(chunks))
        else:
            status = COMPLETED
    except BaseException as e:
        summary = _summary(rid, FAILED, events, len(chunks), t0)
        summary["error"] = f"{type(e).__name__}: {e}"
        write_json(d / "summary.json", summary)
        raise
    summary = _summary(rid, status, events, len(chunks), t0)
    write_json(d / "summary.json", summary)
    return SentryRunResult(rid, summary, events)


def read_run(store: ArtifactStore, run_id: str) -> dict[str, Any]:
    d = store.item_dir("text_runs", run_id, must_exist=True)
    return {"request": read_json(d / "request.json"), "summary": read_json(d / "summary.json")}


def read_events(store: ArtifactStore, run_id: str) -> list[dict[str, Any]]:
    d = store.item_dir("text_runs", run_id, must_exist=True)
    p = d / "events.jsonl"
    return read_jsonl(p) if p.exists() else []


def list_runs(store: ArtifactStore) -> list[dict[str, Any]]:
    """Request head + summary of every readable run, newest first."""
    out = []
    for rid in store.list_ids("text_runs"):
        try:
            r = read_run(store, rid)
        except (StoreError, OSError, ValueError):  # a half-written run is listed by id only
            out.append({"run_id": rid, "status": "unreadable"})
            continue
        req = {
            k: v
            for k, v in r["request"].items()
            if k not in ("text", "config", "canaries", "reference")
        }
        out.append({**req, **r["summary"]})
    out.sort(key=lambda r: str(r.get("created_at", "")), reverse=True)
    return out
