"""Sleep: consolidate what chat sessions taught a model into its core weights, offline.

    ttt sleep --model ID [--sessions a,b] [--core-path P] [--core-ratio 0.5]
              [--method ewc|replay] [--ewc-lambda X] [--steps N] [--llm-url U] [--json]

1. **Harvest** the traces of the sessions recorded against this exact model: a session's
   ``model_id`` *and* ``model_weights_sha256`` must match the model's, so a session of an
   older model with the same id (re-trained weights) is never harvested. Each turn's prompt
   is a candidate memory; the completion (the model's own output) is not (see
   ``ttt.safety.auditor``).
2. **Audit** every memory (``ttt.safety.auditor``): rejected if the gate blocked it at the
   time, if a person flagged it, if the stricter gate re-check (OOD rule on, fed with this
   model's loss and write-pressure z-scores) or the semantic detector flags it, or if the
   optional LLM reviewer calls it unsafe. Every decision is recorded with its reasons; the
   memories the auditor flagged go to ``flagged_prompts.json`` for the red team.
3. **Consolidate** the approved memories, mixed with core knowledge (``core_ratio`` of the
   examples of every batch are windows of the core text: the model's own stored train split
   by default, or ``core_path``), into the **backbone and LayerNorms only** (embedding, head
   and context net frozen, bit-identical to the parent). ``method="ewc"``: **Elastic Weight
   Consolidation** (Kirkpatrick et al., 2017): the loss adds ``λ · Σ_i F_i (θ_i − θ*_i)²``,
   where ``θ*`` are the parent weights and ``F`` the diagonal empirical Fisher information of
   the core data at ``θ*`` (mean squared per-window gradient), normalised to mean 1 over the
   trainable entries so that ``λ`` does not depend on the model's size; weights that matter
   for core knowledge move least. ``method="replay"``: the same mix without the penalty
   (plain rehearsal). With ``compare_replay`` an EWC sleep also trains the replay baseline
   from the same parent on the same batches and reports it beside (``baseline_replay``).
4. **Evaluate** before and after: retention = core held-out loss (the model's own val split),
   acquisition = mean token loss on the approved memories; write a new text model with
   ``status="sleep_candidate"`` (never picked by default; ``ttt lm promote`` makes it usable,
   ``ttt lm reject`` withdraws it) plus ``sleep_manifest.json`` (inputs, every decision,
   metrics) and ``sleep_data.safetensors`` (the exact session token stream it was trained on).

For an imported (HF) model the consolidation goes into a new core LoRA adapter instead
(``ttt.text.sleep_hf``), and ``residual=True`` makes that adapter the starting fast weights of
the next day's sessions (the adapter residual) instead of merging it.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import platform
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ttt import __version__
from ttt.configs import check_float, check_int, from_dict
from ttt.models import registry
from ttt.models.corpus import Corpus, TokenBuffer
from ttt.models.protocol import FastWeightLm
from ttt.models.reference import chat_examples, reference_z, tinylm_reference
from ttt.models.registry import KIND, SLEEP_CANDIDATE, WEIGHTS_FILE
from ttt.models.tiny import TinyLmBackend
from ttt.models.tinylm import TinyLm
from ttt.safety.auditor import (
    AuditDecision,
    Auditor,
    AuditorConfig,
    Memory,
    record_flagged,
)
from ttt.store import (
    SCHEMA_VERSION,
    ArtifactStore,
    NotFoundError,
    StoreError,
    new_id,
    read_json,
    validate_id,
    write_json,
    write_tensors,
)
from ttt.text.chat_store import TRACE_FILE, committed_records

METHODS = ("ewc", "replay")
SESSIONS_KIND = "text_sessions"
MANIFEST_FILE = "sleep_manifest.json"
DATA_FILE = "sleep_data.safetensors"
TRAINABLE_PREFIXES = ("backbone.", "norm.")  # the backbone (its LayerNorms included) + final norm
# Files of the parent model the candidate shares (tokenizer and token splits): the core
# retention metric and a later sleep of the candidate read the same data.
SHARED_FILES = (
    "tokenizer.json",
    "corpus.json",
    "tokens.json",
    "train_tokens.bin",
    "val_tokens.bin",
)

Progress = Callable[[int, int], None]


class SleepError(ValueError):
    """A sleep that cannot run as asked (no sessions, nothing approved, bad core data)."""


# ---------------------------------------------------------------------------- config


@dataclass
class SleepConfig:
    """Every input of a sleep; stored whole in the manifest."""

    sessions: list[str] | None = None  # None: every session of the model
    core_path: str | None = None  # folder/file of text; None: the model's own train split
    core_ratio: float = 0.5  # fraction of each batch's examples that are core windows
    method: str = "ewc"  # "ewc" (importance-weighted) or "replay" (plain rehearsal)
    ewc_lambda: float = 1.0
    steps: int = 150
    lr: float = 2e-3  # AdamW on the backbone + LayerNorms
    batch_size: int = 16
    seq_len: int | None = None  # core window length; None: the model's training seq_len
    fisher_windows: int = 64  # core windows of the diagonal Fisher
    eval_windows: int = 32  # core held-out windows of the retention metric
    grad_clip: float = 1.0
    seed: int = 0
    compare_replay: bool = True  # with method "ewc", also train the replay baseline
    auditor: dict[str, Any] = field(default_factory=dict)  # AuditorConfig fields
    candidate_id: str | None = None  # default: a fresh "sleep-..." id
    device: str = "cpu"
    residual: bool = False  # HF models: the adapter starts next sessions' fast weights

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"SleepConfig.{name} {why}, got {getattr(self, name)!r}")

        if self.sessions is not None:
            if not isinstance(self.sessions, list) or not self.sessions:
                raise bad("sessions", "must be null or a non-empty list of session ids")
            for sid in self.sessions:
                try:
                    validate_id(sid, what="text session id")
                except StoreError as e:
                    raise ValueError(f"SleepConfig.sessions: {e}") from e
            if len(set(self.sessions)) != len(self.sessions):
                raise bad("sessions", "must not repeat a session")
        if self.core_path is not None and (
            not isinstance(self.core_path, str)
            or not self.core_path.strip()
            or len(self.core_path) > 4096
        ):
            raise bad("core_path", "must be null or a path (at most 4096 characters)")
        check_float("SleepConfig.core_ratio", self.core_ratio, lo=0.0, hi=1.0, hi_open=True)
        if self.method not in METHODS:
            raise bad("method", f"must be one of {METHODS}")
        check_float("SleepConfig.ewc_lambda", self.ewc_lambda, lo=0.0, hi=1e6)
        check_float("SleepConfig.grad_clip", self.grad_clip, lo=0.0, hi=1e6)
        check_float("SleepConfig.lr", self.lr, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        for name, hi in (
            ("steps", 100_000), ("batch_size", 4096), ("fisher_windows", 100_000),
            ("eval_windows", 100_000),
        ):  # fmt: skip
            check_int(f"SleepConfig.{name}", getattr(self, name), lo=1, hi=hi)
        if self.batch_size < 2 and self.core_ratio > 0:
            raise bad("batch_size", "must be >= 2 when core_ratio > 0 (one core, one session)")
        if self.seq_len is not None:
            check_int("SleepConfig.seq_len", self.seq_len, lo=2, hi=65_536)
        check_int("SleepConfig.seed", self.seed, lo=0, hi=2**32 - 1)
        if not isinstance(self.compare_replay, bool):
            raise bad("compare_replay", "must be true or false")
        if not isinstance(self.auditor, dict):
            raise bad("auditor", "must be an object of AuditorConfig fields")
        try:
            AuditorConfig.from_dict(self.auditor)
        except ValueError as e:
            raise ValueError(f"SleepConfig.auditor: {e}") from e
        if self.candidate_id is not None:
            try:
                validate_id(self.candidate_id, what="candidate id")
            except StoreError as e:
                raise ValueError(f"SleepConfig.candidate_id: {e}") from e
        if not isinstance(self.residual, bool):
            raise bad("residual", "must be true or false")
        try:
            if not isinstance(self.device, str) or not self.device or len(self.device) > 64:
                raise RuntimeError
            torch.device(self.device)
        except RuntimeError:
            raise bad("device", "must be a torch device name such as 'cpu' or 'cuda:0'") from None

    @property
    def n_core(self) -> int:
        """Core windows per batch (the rest are session memories; at least one of those)."""
        return min(self.batch_size - 1, round(self.batch_size * self.core_ratio))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SleepConfig:
        return from_dict(cls, d, "SleepConfig")


@dataclass
class SleepResult:
    candidate_id: str | None  # None when the sleep was cancelled (nothing written)
    manifest: dict[str, Any]


# ---------------------------------------------------------------------------- harvest


def harvest(
    store: ArtifactStore, model_id: str, weights_sha256: str, sessions: Sequence[str] | None
) -> tuple[list[str], list[dict[str, Any]], list[Memory]]:
    """(harvested session ids, skipped sessions with reasons, memories in session/turn order).

    Only sessions whose ``model_id`` and ``model_weights_sha256`` both match are harvested.
    A session named in ``sessions`` that does not match is an error (``SleepError``); when
    harvesting every session, others are skipped and listed with the reason."""
    explicit = sessions is not None
    ids = list(sessions) if sessions is not None else store.list_ids(SESSIONS_KIND)
    used: list[str] = []
    skipped: list[dict[str, Any]] = []
    memories: list[Memory] = []
    for sid in ids:
        d = store.item_dir(SESSIONS_KIND, sid)
        meta_path = d / "session.json"
        if not meta_path.is_file():
            if explicit:
                raise NotFoundError(f"text session {sid!r} not found (no {meta_path})")
            skipped.append({"session_id": sid, "reason": "no session.json"})
            continue
        meta = read_json(meta_path)
        why = None
        if meta.get("model_id") != model_id:
            why = f"recorded against model {meta.get('model_id')!r}"
        elif meta.get("model_weights_sha256") != weights_sha256:
            why = "recorded against other weights of this model id (weights_sha256 differs)"
        if why is not None:
            if explicit:
                raise SleepError(f"text session {sid!r} cannot feed {model_id!r}: {why}")
            skipped.append({"session_id": sid, "reason": why})
            continue
        # Only committed turns: a record a killed turn left behind is not a memory.
        trace = committed_records(d, TRACE_FILE, int(meta.get("n_turns", 0)))
        used.append(sid)
        for rec in trace:
            memories.append(Memory.from_trace(sid, rec))
    return used, skipped, memories


# ---------------------------------------------------------------------------- model signals


class PromptSignals:
    """OOD inputs of the gate for one prompt, as a chat write measures it: the loss of the
    message (inside the chat template for an HF model) under a fresh session's fast weights,
    and the gradient norm of that loss on the fast weights (write pressure), both as z-scores
    against the model's reference. Works through the model protocol (any backend); the
    model's live fast weights are restored after every call."""

    def __init__(self, lm: FastWeightLm, reference: Mapping[str, Any] | None) -> None:
        self.lm = lm
        self.reference = reference
        self.initial = lm.initial_plastic()

    def __call__(self, text: str) -> dict[str, float]:
        if not self.lm.tokenizer.encode(text) or self.reference is None:
            return {}
        plastic = self.lm.plastic()
        saved = {n: p.detach().clone() for n, p in plastic.items()}
        try:
            with torch.no_grad():
                for n, p in plastic.items():
                    p.copy_(self.initial[n])
            prep = self.lm.prepare(chat_examples(self.lm, [text])[0])
            loss = self.lm.example_losses([prep])[0]
            grads = torch.autograd.grad(loss, list(plastic.values()))
        finally:
            with torch.no_grad():
                for n, p in plastic.items():
                    p.copy_(saved[n])
        gnorm = float(torch.stack([g.double().pow(2).sum() for g in grads]).sum().sqrt())
        out = {}
        lz = reference_z(float(loss.detach()), self.reference.get("loss"))
        gz = reference_z(gnorm, self.reference.get("grad_norm"))
        if lz is not None:
            out["loss_z"] = lz
        if gz is not None:
            out["grad_norm_z"] = gz
        return out


# ---------------------------------------------------------------------------- data


def memory_sequences(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """``[bos, *ids, eos]`` per memory text (texts with no tokens are dropped)."""
    out = []
    for t in texts:
        ids = tokenizer.encode(t)
        if ids:
            out.append([tokenizer.bos_id, *ids, tokenizer.eos_id])
    return out


def _pad(seqs: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor, Tensor]:
    """Inputs (B, T), targets (B, T) and a token mask (B, T) for next-token prediction."""
    t = max(len(s) for s in seqs) - 1
    x = torch.zeros(len(seqs), t, dtype=torch.long)
    y = torch.zeros(len(seqs), t, dtype=torch.long)
    m = torch.zeros(len(seqs), t)
    for i, s in enumerate(seqs):
        n = len(s) - 1
        x[i, :n] = torch.tensor(s[:-1])
        y[i, :n] = torch.tensor(s[1:])
        m[i, :n] = 1.0
    return x, y, m


class _TensorTokens:
    """Core text from ``core_path``: an in-memory token stream with TokenBuffer's windows."""

    def __init__(self, ids: Tensor) -> None:
        self.ids = ids  # (N,) int64

    def __len__(self) -> int:
        return int(self.ids.numel())

    def sample_starts(self, batch: int, seq_len: int, generator: torch.Generator) -> Tensor:
        if len(self) < seq_len + 1:
            raise SleepError(f"core text has {len(self)} tokens, too few for windows of {seq_len}")
        return torch.randint(len(self) - seq_len, (batch,), generator=generator)

    def windows(self, starts: Tensor, seq_len: int) -> tuple[Tensor, Tensor]:
        idx = starts[:, None] + torch.arange(seq_len + 1)[None, :]  # (B, T+1)
        win = self.ids[idx]
        return win[:, :-1], win[:, 1:]


def _core_source(lm: TinyLmBackend, d: Path, core_path: str | None) -> tuple[Any, dict[str, Any]]:
    if core_path is None:
        buf = TokenBuffer.open(d, "train")
        return buf, {"source": "model train split", "n_tokens": len(buf)}
    corpus = Corpus.from_paths([core_path])
    manifest = corpus.scan()
    bos, eos = int(lm.tokenizer.bos_id or 0), int(lm.tokenizer.eos_id or 0)
    ids: list[int] = []
    for doc in corpus.documents:
        ids.append(bos)
        for piece in doc.chunks():
            ids += lm.tokenizer.encode(piece)
        ids.append(eos)
    return _TensorTokens(torch.tensor(ids, dtype=torch.long)), {
        "source": "core_path",
        "path": str(core_path),
        "sha256": manifest["sha256"],
        "n_documents": manifest["n_documents"],
        "n_tokens": len(ids),
    }


# ---------------------------------------------------------------------------- consolidation


def trainable_names(model: TinyLm) -> list[str]:
    """The parameters sleep may change: the backbone (its LayerNorms included) and the
    final LayerNorm. Embedding, head and context net stay frozen."""
    return [n for n, _ in model.named_parameters() if n.startswith(TRAINABLE_PREFIXES)]


def _per_example_loss(model: TinyLm, x: Tensor, y: Tensor, m: Tensor | None) -> Tensor:
    """(B,) mean token loss of each example (masked tokens excluded)."""
    logits, _ = model(x)  # (B, T, V)
    per = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")  # (B, T)
    if m is None:
        return per.mean(dim=1)
    return (per * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


def diagonal_fisher(model: TinyLm, names: Sequence[str], x: Tensor, y: Tensor) -> dict[str, Tensor]:
    """Empirical diagonal Fisher at the current weights: the mean over windows x, y (N, T)
    of each window's squared loss gradient, normalised to mean 1 over all entries."""
    params = dict(model.named_parameters())
    acc = {n: torch.zeros_like(params[n]) for n in names}
    for i in range(x.shape[0]):
        loss = _per_example_loss(model, x[i : i + 1], y[i : i + 1], None).sum()
        grads = torch.autograd.grad(loss, [params[n] for n in names])
        for n, g in zip(names, grads, strict=True):
            acc[n] += g.detach() ** 2
    total = sum(float(a.sum()) for a in acc.values())
    count = sum(a.numel() for a in acc.values())
    scale = count / total if total > 0 else 1.0
    return {n: a * scale for n, a in acc.items()}


@dataclass
class _Batches:
    """Step ``s``'s mixed batch is a function of (seed, s) alone, so the EWC run and the
    replay baseline train on exactly the same examples."""

    core: Any
    seqs: list[list[int]]
    cfg: SleepConfig
    seq_len: int

    def batch(
        self, step: int
    ) -> tuple[tuple[Tensor, Tensor] | None, tuple[Tensor, Tensor, Tensor]]:
        """(core inputs, targets (n_core, T) or None; session inputs, targets, mask)."""
        g = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + step)
        n_core = self.cfg.n_core
        n_sess = self.cfg.batch_size - n_core
        core = None
        if n_core:
            core = self.core.windows(self.core.sample_starts(n_core, self.seq_len, g), self.seq_len)
        pick = torch.randint(len(self.seqs), (n_sess,), generator=g).tolist()
        return core, _pad([self.seqs[i][: self.seq_len + 1] for i in pick])


def _lr_factor(step: int, steps: int, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 0.1."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))


def consolidate(
    model: TinyLm,
    batches: _Batches,
    cfg: SleepConfig,
    *,
    fisher: dict[str, Tensor] | None,
    ewc_lambda: float,
    device: str,
    progress: Callable[[int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> dict[str, Any] | None:
    """Train ``model`` in place (trainable params only); None when cancelled.

    Loss per step = mean over the batch's examples of each example's mean token loss (so
    ``core_ratio`` is the core share of the objective) + ``ewc_lambda · Σ F (θ − θ*)²``."""
    names = trainable_names(model)
    params = dict(model.named_parameters())
    for n, p in params.items():
        p.requires_grad_(n in names)
    anchor = {n: params[n].detach().clone() for n in names}
    opt = torch.optim.AdamW(
        [params[n] for n in names], lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.0
    )
    warmup = max(1, cfg.steps // 10)
    model.train()
    log: list[dict[str, float]] = []
    t0 = time.perf_counter()
    for step in range(cfg.steps):
        if cancel is not None and cancel():
            return None
        for group in opt.param_groups:
            group["lr"] = cfg.lr * _lr_factor(step, cfg.steps, warmup)
        core, (sx, sy, sm) = batches.batch(step)
        losses = [_per_example_loss(model, sx.to(device), sy.to(device), sm.to(device))]
        if core is not None:
            losses.insert(0, _per_example_loss(model, core[0].to(device), core[1].to(device), None))
        task = torch.cat(losses).mean()
        penalty = torch.zeros((), device=device)
        if fisher is not None and ewc_lambda > 0:
            # λ · Σ F (θ − θ*)²: the EWC penalty (a scalar tensor)
            penalty = (
                ewc_lambda
                * torch.stack(
                    [(fisher[n] * (params[n] - anchor[n]) ** 2).sum() for n in names]
                ).sum()
            )
        loss = task + penalty
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_([params[n] for n in names], cfg.grad_clip)
        opt.step()
        if not torch.isfinite(loss):
            raise SleepError(f"non-finite sleep loss at step {step + 1}")
        if step % 10 == 0 or step == cfg.steps - 1:
            log.append(
                {
                    "step": step + 1,
                    "task_loss": float(task.detach()),
                    "penalty": float(penalty.detach()),
                }
            )
        if progress is not None:
            progress(step + 1)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    drift = {
        "l2": math.sqrt(sum(float(((params[n] - anchor[n]) ** 2).sum()) for n in names)),
        "fisher_weighted": (
            sum(float((fisher[n] * (params[n] - anchor[n]) ** 2).sum()) for n in names)
            if fisher is not None
            else None
        ),
    }
    return {"log": log, "drift": drift, "seconds": round(time.perf_counter() - t0, 3)}


@torch.no_grad()
def session_loss(model: TinyLm, seqs: Sequence[Sequence[int]], device: str) -> float:
    """Mean token loss over every approved memory (each from a fresh state)."""
    total, count = 0.0, 0
    for i in range(0, len(seqs), 32):
        x, y, m = _pad(seqs[i : i + 32])
        logits, _ = model(x.to(device))
        per = F.cross_entropy(logits.transpose(1, 2), y.to(device), reduction="none")
        total += float((per * m.to(device)).sum())
        count += int(m.sum())
    return total / max(count, 1)


@torch.no_grad()
def core_loss(model: TinyLm, val: TokenBuffer, seq_len: int, n_windows: int, device: str) -> float:
    """Mean token loss over fixed windows of the model's validation split."""
    from ttt.models.train import evaluate_loss

    model.to(device)
    return evaluate_loss(model, val, seq_len, n_windows)


def _metrics(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    return {
        "before": before,
        "after": after,
        "retention_change_pct": 100.0
        * (after["core_loss"] - before["core_loss"])
        / before["core_loss"],
        "acquisition_drop_pct": 100.0
        * (before["session_loss"] - after["session_loss"])
        / before["session_loss"],
    }


# ---------------------------------------------------------------------------- run


def _link_or_copy(src: Path, dst: Path) -> None:
    """Token files are never modified in place (writers replace them), so a hard link is
    safe; copy where links are not possible."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def run_sleep(
    store: ArtifactStore,
    model_id: str,
    cfg: SleepConfig,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> SleepResult:
    """Harvest → audit → consolidate → evaluate → write a ``sleep_candidate`` (module doc).

    ``progress(done, total)`` counts training steps (both runs when the replay baseline is
    trained); ``cancel()`` is polled every step: a cancelled sleep writes no candidate and
    returns ``SleepResult(None, {"status": "cancelled", ...})`` (flagged prompts found before
    the cancel stay recorded)."""
    if registry.backend_of(registry.read_meta(store, model_id)) == "hf":
        from ttt.text.sleep_hf import run_sleep_hf

        return run_sleep_hf(store, model_id, cfg, progress=progress, cancel=cancel)
    if cfg.residual:
        raise SleepError("the adapter residual needs an imported (hf) model with LoRA fast weights")
    t_start = time.perf_counter()
    lm = registry.load_tinylm(store, model_id, device="cpu")
    meta = lm.meta
    parent_sha = meta.get("weights_sha256")
    if not parent_sha:
        raise SleepError(f"text model {model_id!r} has no weights_sha256 in meta.json")
    d = registry.model_dir(store, model_id)
    audit_cfg = AuditorConfig.from_dict(cfg.auditor)
    seq_len = cfg.seq_len or int(meta.get("train_cfg", {}).get("seq_len", 128))

    # 1. Harvest.
    sessions, skipped, memories = harvest(store, model_id, parent_sha, cfg.sessions)
    if not memories:
        raise SleepError(
            f"no chat turns to consolidate for model {model_id!r} "
            f"({len(sessions)} matching session(s), {len(skipped)} skipped)"
        )

    # 2. Audit.
    reference = meta.get("reference")
    val = TokenBuffer.open(d, "val")
    if reference is None and len(val) > 129:
        reference = tinylm_reference(lm.model, lm.tokenizer, val, chunk_tokens=128)
    auditor = Auditor(audit_cfg, model_signals=PromptSignals(lm, reference))
    decisions = auditor.review(memories)
    flagged_written = record_flagged(
        store, list(zip(memories, decisions, strict=True)), model_id=model_id
    )
    approved = [m for m, dec in zip(memories, decisions, strict=True) if dec.approved]
    seqs = memory_sequences(lm.tokenizer, [m.text for m in approved])
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "candidate_id": None,
        "parent_model_id": model_id,
        "parent_weights_sha256": parent_sha,
        "created_at": registry.now_iso(),
        "config": cfg.to_dict(),
        "auditor_config": audit_cfg.to_dict(),
        "sessions": sessions,
        "skipped_sessions": skipped,
        "memories": [_memory_record(m, dec) for m, dec in zip(memories, decisions, strict=True)],
        "counts": {
            "memories": len(memories),
            "approved": len(approved),
            "rejected": len(memories) - len(approved),
        },
        "flagged_written": flagged_written,
        "completions_included": False,
        "audit_timing_ms": dict(auditor.timing_ms),
    }
    if not seqs:
        raise SleepError(
            f"the auditor rejected all {len(memories)} memories; nothing to consolidate "
            "(see the reasons with --json)"
        )

    # 3. Consolidate.
    device = cfg.device
    core, core_info = _core_source(lm, d, cfg.core_path)
    batches = _Batches(core, seqs, cfg, seq_len)
    parent = lm.model.to(device).eval()
    before = {
        "core_loss": core_loss(parent, val, seq_len, cfg.eval_windows, device),
        "session_loss": session_loss(parent, seqs, device),
    }
    runs = [cfg.method] + (["replay"] if cfg.method == "ewc" and cfg.compare_replay else [])
    total = cfg.steps * len(runs)
    fisher = None
    if cfg.method == "ewc":
        work = copy.deepcopy(parent)
        names = trainable_names(work)
        for n, p in work.named_parameters():
            p.requires_grad_(n in names)
        fg = torch.Generator().manual_seed(cfg.seed * 1_000_003 + 999_983)
        fx, fy = core.windows(core.sample_starts(cfg.fisher_windows, seq_len, fg), seq_len)
        fisher = diagonal_fisher(work, names, fx.to(device), fy.to(device))
        del work
    results: dict[str, tuple[TinyLm, dict[str, Any]]] = {}
    for k, method in enumerate(runs):
        student = copy.deepcopy(parent)
        step_progress: Callable[[int], None] | None = None
        if progress is not None:

            def step_progress(s: int, k: int = k, report: Progress = progress) -> None:
                report(k * cfg.steps + s, total)

        info = consolidate(
            student,
            batches,
            cfg,
            fisher=fisher,  # replay: only to measure its Fisher-weighted drift (λ = 0)
            ewc_lambda=cfg.ewc_lambda if method == "ewc" else 0.0,
            device=device,
            progress=step_progress,
            cancel=cancel,
        )
        if info is None:
            return SleepResult(None, {**manifest, "status": "cancelled"})
        after = {
            "core_loss": core_loss(student, val, seq_len, cfg.eval_windows, device),
            "session_loss": session_loss(student, seqs, device),
        }
        results[method] = (student, {**_metrics(before, after), "training": info})

    model, main = results[cfg.method]
    metrics = {k: v for k, v in main.items() if k != "training"}
    if cfg.method == "ewc" and "replay" in results:
        metrics["baseline_replay"] = {
            k: v for k, v in results["replay"][1].items() if k != "training"
        }
    # 4. The candidate.
    cid = cfg.candidate_id or new_id("sleep")
    weights = {n: t.detach().cpu().contiguous() for n, t in model.state_dict().items()}
    session_tokens = torch.tensor([t for s in seqs for t in s], dtype=torch.long)
    manifest.update(
        candidate_id=cid,
        status="completed",
        core=core_info,
        seq_len=seq_len,
        consolidation={
            "trainable": trainable_names(model),
            "frozen": sorted(
                n for n, _ in model.named_parameters() if not n.startswith(TRAINABLE_PREFIXES)
            ),
            "memory_ids": [m.id for m in approved],
            "n_session_tokens": int(session_tokens.numel()),
            "session_tokens_sha256": hashlib.sha256(session_tokens.numpy().tobytes()).hexdigest(),
            "method": cfg.method,
            "training": {m: r[1]["training"] for m, r in results.items()},
        },
        metrics=metrics,
        seconds=round(time.perf_counter() - t_start, 2),
    )
    _write_candidate(store, cid, lm, d, weights, manifest, session_tokens, main, val)
    return SleepResult(cid, manifest)


def _memory_record(m: Memory, dec: AuditDecision) -> dict[str, Any]:
    return {
        "id": m.id,
        "session_id": m.session_id,
        "turn": m.turn,
        "text_sha256": m.text_sha256,
        "text": m.text,
        "decision": dec.decision,
        "reasons": list(dec.reasons),
        "checks": dec.checks,
    }


def _write_candidate(
    store: ArtifactStore,
    cid: str,
    lm: TinyLmBackend,
    parent_dir: Path,
    weights: dict[str, Tensor],
    manifest: dict[str, Any],
    session_tokens: Tensor,
    main: dict[str, Any],
    val: TokenBuffer,
) -> None:
    """The candidate's files, ``meta.json`` among them, appear together or not at all."""
    with store.lock(KIND, cid):

        def build(d: Path) -> None:
            for name in SHARED_FILES:
                src = parent_dir / name
                if src.exists():
                    _link_or_copy(src, d / name)
            write_tensors(d / WEIGHTS_FILE, weights)
            write_tensors(d / DATA_FILE, {"session_tokens": session_tokens})
            write_json(d / MANIFEST_FILE, manifest)
            model = copy.deepcopy(lm.model).cpu()
            model.load_state_dict(weights)
            reference = (
                tinylm_reference(model, lm.tokenizer, val, chunk_tokens=128)
                if len(val) > 129
                else None
            )
            pm = lm.meta
            after = main["after"]
            meta = {
                "model_id": cid,
                "status": SLEEP_CANDIDATE,
                "promoted": False,
                "parent_model_id": lm.model_id,
                "origin": "sleep",
                **registry.created_now(),
                "preset": pm.get("preset"),
                "model_cfg": pm["model_cfg"],
                "train_cfg": pm.get("train_cfg", {}),
                "device": "cpu",
                "step": pm.get("step", 0),
                "corpus": pm.get("corpus"),
                "tokenizer": pm.get("tokenizer"),
                "tokens": pm.get("tokens"),
                "metrics": {
                    "val_loss": after["core_loss"],
                    "val_ppl": math.exp(min(after["core_loss"], 50.0)),
                    "session_loss": after["session_loss"],
                    "n_params": pm.get("metrics", {}).get("n_params"),
                },
                "sleep": {
                    "method": manifest["config"]["method"],
                    "sessions": manifest["sessions"],
                    "approved": manifest["counts"]["approved"],
                    "rejected": manifest["counts"]["rejected"],
                    "retention_change_pct": main["retention_change_pct"],
                    "acquisition_drop_pct": main["acquisition_drop_pct"],
                },
                "reference": reference,
                "weights_sha256": registry.weights_sha256(weights),
                "completed_at": registry.now_iso(),
                "torch_version": torch.__version__,
                "package_version": __version__,
                "python_version": platform.python_version(),
            }
            write_json(d / "meta.json", {**meta, "updated_at": registry.now_iso()})

        # Built in a temporary folder and renamed into place whole: a killed sleep leaves
        # nothing under the candidate id, so the same --id can be run again.
        store.build_item(KIND, cid, build)


def read_manifest(store: ArtifactStore, candidate_id: str) -> dict[str, Any]:
    path = registry.model_dir(store, candidate_id) / MANIFEST_FILE
    if not path.exists():
        raise NotFoundError(f"text model {candidate_id!r} has no {MANIFEST_FILE}")
    return read_json(path)


# ---------------------------------------------------------------------------- job


def sleep_job(
    store: ArtifactStore,
    params: dict[str, Any],
    progress: Progress,
    cancel: Callable[[], bool],
) -> dict[str, Any]:
    """Job kind ``sleep``: ``params`` = ``model_id`` (required), optional ``threads``, and
    SleepConfig fields. A core_path must lie inside the artifact root."""
    p = dict(params)
    model_id = p.pop("model_id", None)
    if not isinstance(model_id, str) or not model_id:
        raise ValueError("sleep job needs params.model_id")
    torch.set_num_threads(max(1, int(p.pop("threads", None) or 1)))
    cfg = SleepConfig.from_dict(p)
    if cfg.core_path is not None:
        path = store.user_path(cfg.core_path, "SleepConfig.core_path")
        cfg = SleepConfig.from_dict({**cfg.to_dict(), "core_path": str(path)})
    result = run_sleep(store, model_id, cfg, progress=progress, cancel=cancel)
    m = result.manifest
    out: dict[str, Any] = {
        "candidate_id": result.candidate_id,
        "status": m.get("status"),
        "approved": m["counts"]["approved"],
        "rejected": m["counts"]["rejected"],
        "flagged_written": m["flagged_written"],
    }
    if "metrics" in m:
        out["retention_change_pct"] = m["metrics"]["retention_change_pct"]
        out["acquisition_drop_pct"] = m["metrics"]["acquisition_drop_pct"]
    return out
