"""Offline training of a TinyLm on a corpus, with resumable safetensors checkpoints.

    ttt lm train --preset demo                       # built-in corpus, about a minute
    ttt lm train --corpus notes/ --preset default --steps 5000
    ttt lm train --resume <model_id>                 # continues bit-exactly

Pipeline (``train_model``): scan the corpus (UTF-8, hash) → train the BPE tokenizer →
tokenise to memory-mapped token files, split by document → train → ``model.safetensors``.

Optimisation: ``torch.optim.Muon`` for the 2-D hidden matrices (SSM projections, MLPs, GRU
weights) and AdamW for the embedding, head, norms and vectors (``ttt.optim.split_params``);
linear warm-up then cosine (or linear) decay to ``min_lr_frac``; global gradient-norm
clipping. The context net (the plastic part) is not trained here: it stays zero.

Reproducibility: the batch of step ``s`` is drawn from a generator seeded by
``(seed, s)`` alone, the schedule is a function of ``s``, and checkpoints hold the weights and
every optimizer state tensor. So training N steps equals training k steps, stopping and
resuming for N − k steps, bit for bit (tested).

The step is separable for data parallelism: ``compute_grads`` (forward + backward), then a
``grad_hook`` over the gradients and the loss, then ``apply_update`` (clip, schedule,
optimizer steps). Under ``torchrun`` the hook is an all-reduce that averages them across
processes, each of which ran its slice of the same global batch (``ttt.models.distributed``).
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ttt import __version__
from ttt.configs import check_float, check_int, from_dict
from ttt.models import registry
from ttt.models.corpus import Corpus, TokenBuffer, write_token_files
from ttt.models.distributed import DataParallel, data_parallel
from ttt.models.reference import tinylm_reference
from ttt.models.registry import (
    CANCELLED,
    COMPLETED,
    FAILED,
    KIND,
    TRAINING,
    WEIGHTS_FILE,
    ModelStateError,
    weights_sha256,
)
from ttt.models.tinylm import TinyLm, TinyLmConfig
from ttt.models.tokenizer import MIN_VOCAB, BpeTokenizer
from ttt.optim import split_params
from ttt.store import (
    ArtifactStore,
    CorruptFileError,
    append_jsonl,
    atomic_write_text,
    new_id,
    read_json,
    read_jsonl,
    read_tensors,
    validate_id,
    write_json,
    write_tensors,
)

Progress = Callable[[int, int, dict[str, Any]], None]
GradHook = Callable[[list[Tensor]], None]
DECAYS = ("cosine", "linear")
PRESETS = ("tiny", "demo", "default")
REFERENCE_CHUNK_TOKENS = 128  # Sentry default chunk length (ttt.models.reference)
CKPT_DIR = "checkpoints"
MAX_STEPS = 10_000_000  # steps, warm-up and every "every N steps" are at most this


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss or weights)."""


@dataclass(frozen=True)
class TrainConfig:
    """Budget, data and optimiser settings of one training run."""

    steps: int = 3000
    batch_size: int = 16
    seq_len: int = 128
    lr: float = 0.02  # Muon lr (2-D hidden matrices)
    adam_lr: float = 3e-3  # AdamW lr (embedding, head, norms, vectors)
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    warmup_steps: int = 100
    decay: str = "cosine"  # "cosine" or "linear", from 1 to min_lr_frac after warm-up
    min_lr_frac: float = 0.1
    grad_clip: float = 1.0  # max global grad norm; 0 disables clipping
    seed: int = 0
    vocab_size: int = 4096  # requested BPE vocabulary (a small corpus may give fewer)
    val_fraction: float = 0.1
    eval_every: int = 250
    eval_windows: int = 64  # fixed validation windows of seq_len tokens
    log_every: int = 10
    checkpoint_every: int = 500
    tokenizer_sample_chars: int = 20_000_000  # text the tokenizer is trained on, at most

    def __post_init__(self) -> None:
        for name, lo, hi in (
            ("steps", 1, MAX_STEPS), ("batch_size", 1, 4096), ("seq_len", 1, 65_536),
            ("warmup_steps", 0, MAX_STEPS), ("seed", 0, 2**32 - 1),
            ("vocab_size", MIN_VOCAB, 1_000_000), ("eval_every", 1, MAX_STEPS),
            ("eval_windows", 1, 100_000), ("log_every", 1, MAX_STEPS),
            ("checkpoint_every", 1, MAX_STEPS), ("tokenizer_sample_chars", 1, 10**12),
        ):  # fmt: skip
            check_int(f"TrainConfig.{name}", getattr(self, name), lo=lo, hi=hi)
        for name in ("lr", "adam_lr"):
            check_float(f"TrainConfig.{name}", getattr(self, name), lo=0.0, lo_open=True, hi=10.0)
        check_float("TrainConfig.weight_decay", self.weight_decay, lo=0.0, hi=10.0)
        check_float("TrainConfig.grad_clip", self.grad_clip, lo=0.0, hi=1e6)
        if self.decay not in DECAYS:
            raise ValueError(f"TrainConfig.decay must be one of {DECAYS}, got {self.decay!r}")
        check_float("TrainConfig.min_lr_frac", self.min_lr_frac, lo=0.0, hi=1.0)
        vf = self.val_fraction
        check_float("TrainConfig.val_fraction", vf, lo=0.0, hi=1.0, lo_open=True, hi_open=True)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        return from_dict(cls, d, "TrainConfig")


def preset_configs(preset: str) -> tuple[TrainConfig, TinyLmConfig]:
    """``tiny``: tests, seconds. ``demo``: about a minute on 2 CPU cores, corpus-like text.
    ``default``: a stronger model for real use (tens of minutes on CPU)."""
    if preset == "tiny":
        return (
            TrainConfig(
                steps=30, batch_size=8, seq_len=32, lr=0.02, adam_lr=1e-2, warmup_steps=3,
                vocab_size=300, eval_every=10, eval_windows=8, log_every=5, checkpoint_every=10,
            ),
            TinyLmConfig(d_model=32, n_layers=1, mlp_mult=2, context_rank=4),
        )  # fmt: skip
    if preset == "demo":
        return (
            TrainConfig(
                steps=300, batch_size=16, seq_len=128, lr=0.02, adam_lr=8e-3, warmup_steps=20,
                vocab_size=2048, eval_every=100, eval_windows=32, log_every=10,
                checkpoint_every=100,
            ),
            TinyLmConfig(d_model=128, n_layers=2, mlp_mult=2, context_rank=8),
        )  # fmt: skip
    if preset == "default":
        return TrainConfig(), TinyLmConfig()
    raise ValueError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Multiplier of both learning rates at 0-based ``step``: warm-up, then decay."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    shape = 0.5 * (1.0 + math.cos(math.pi * progress)) if cfg.decay == "cosine" else 1 - progress
    return cfg.min_lr_frac + (1.0 - cfg.min_lr_frac) * shape


def batch_generator(cfg: TrainConfig, step: int) -> torch.Generator:
    """The generator of step ``step``'s batch: a function of (seed, step) only."""
    return torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)


# ---------------------------------------------------------------------------- the step


@dataclass
class Optimizers:
    """Muon over the 2-D hidden matrices and AdamW over the rest of the core parameters."""

    muon: torch.optim.Muon | None
    adamw: torch.optim.AdamW
    params: list[Tensor]

    @property
    def named(self) -> dict[str, torch.optim.Optimizer]:
        out: dict[str, torch.optim.Optimizer] = {"adamw": self.adamw}
        if self.muon is not None:
            out["muon"] = self.muon
        return out


def make_optimizers(model: TinyLm, cfg: TrainConfig) -> Optimizers:
    """Core params only; the context net is frozen during offline training."""
    for p in model.plastic_parameters().values():
        p.requires_grad_(False)
    named = model.core_named_parameters()
    muon_p, adam_p = split_params(named, adamw_names=("embed.", "head."))
    muon = (
        torch.optim.Muon(muon_p, lr=cfg.lr, momentum=0.95, nesterov=True, weight_decay=0.0)
        if muon_p
        else None
    )
    adamw = torch.optim.AdamW(
        adam_p, lr=cfg.adam_lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay
    )
    return Optimizers(muon, adamw, [p for _, p in named if p.requires_grad])


def lm_loss(model: TinyLm, x: Tensor, y: Tensor) -> Tensor:
    """Mean next-token cross-entropy of windows x (B, T) with targets y (B, T)."""
    logits, _ = model(x)  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def compute_grads(model: TinyLm, opts: Optimizers, x: Tensor, y: Tensor) -> Tensor:
    """Forward and backward on one batch; returns the (detached) loss."""
    for opt in opts.named.values():
        opt.zero_grad(set_to_none=True)
    loss = lm_loss(model, x, y)
    loss.backward()
    return loss.detach()


def apply_update(opts: Optimizers, step: int, cfg: TrainConfig) -> dict[str, float]:
    """Clip, set the scheduled learning rates for ``step`` and step both optimizers."""
    grad_norm = (
        torch.nn.utils.clip_grad_norm_(opts.params, cfg.grad_clip)
        if cfg.grad_clip > 0
        else torch.linalg.vector_norm(
            torch.stack([p.grad.norm() for p in opts.params if p.grad is not None])
        )
    )
    f = lr_factor(step, cfg)
    if opts.muon is not None:
        for group in opts.muon.param_groups:
            group["lr"] = cfg.lr * f
    for group in opts.adamw.param_groups:
        group["lr"] = cfg.adam_lr * f
    for opt in opts.named.values():
        opt.step()
    return {"lr": cfg.lr * f, "adam_lr": cfg.adam_lr * f, "grad_norm": float(grad_norm)}


def train_step(
    model: TinyLm,
    opts: Optimizers,
    x: Tensor,
    y: Tensor,
    step: int,
    cfg: TrainConfig,
    grad_hook: GradHook | None = None,
) -> dict[str, float]:
    """One optimisation step; ``grad_hook`` sees every gradient and the loss (last, shape (1,))
    between backward and update, and may change them in place (e.g. an all-reduce that
    averages them across data-parallel processes, so they all check the same loss)."""
    loss = compute_grads(model, opts, x, y).reshape(1)
    if grad_hook is not None:
        grad_hook([*(p.grad for p in opts.params if p.grad is not None), loss])
    if not torch.isfinite(loss):
        raise TrainingError(f"non-finite training loss at step {step + 1}")
    return {"loss": float(loss), **apply_update(opts, step, cfg)}


@torch.no_grad()
def evaluate_loss(
    model: TinyLm, buf: TokenBuffer, seq_len: int, n_windows: int, *, batch_size: int = 16
) -> float:
    """Mean next-token loss over fixed, evenly spaced windows of ``buf``."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    starts = buf.eval_starts(n_windows, seq_len)
    total, count = 0.0, 0
    for i in range(0, len(starts), batch_size):
        x, y = buf.windows(starts[i : i + batch_size], seq_len)
        logits, _ = model(x.to(device))
        total += float(
            F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y.to(device).reshape(-1), reduction="sum"
            )
        )
        count += y.numel()
    model.train(was_training)
    return total / count


# ---------------------------------------------------------------------------- checkpoints


def optimizer_tensors(opts: Optimizers) -> dict[str, Tensor]:
    """Every optimizer state tensor as ``<opt>.<param index>.<key>``."""
    out: dict[str, Tensor] = {}
    for oname, opt in opts.named.items():
        for idx, st in opt.state_dict()["state"].items():
            for key, v in st.items():
                if not isinstance(v, Tensor):
                    raise TypeError(f"optimizer {oname} state {key!r} is not a tensor: {v!r}")
                out[f"{oname}.{idx}.{key}"] = v
    return out


def load_optimizer_tensors(opts: Optimizers, tensors: dict[str, Tensor], path: Path) -> None:
    for oname, opt in opts.named.items():
        state: dict[int, dict[str, Tensor]] = {}
        for name, t in tensors.items():
            prefix, idx, key = name.split(".", 2)
            if prefix == oname:
                state.setdefault(int(idx), {})[key] = t
        sd = opt.state_dict()  # current param groups (lr is set every step anyway)
        n_params = sum(len(g["params"]) for g in sd["param_groups"])
        if any(i >= n_params for i in state):
            raise CorruptFileError(f"{path}: optimizer {oname} state does not match the model")
        sd["state"] = state
        opt.load_state_dict(sd)


def save_checkpoint(d: Path, step: int, model: TinyLm, opts: Optimizers) -> None:
    """Write ``model-<step>``/``optim-<step>`` tensors, then ``checkpoint.json`` pointing at
    them (the commit point), then delete older checkpoint files."""
    ck = d / CKPT_DIR
    weights = model.state_dict()
    for name, t in weights.items():
        if not bool(torch.isfinite(t).all()):
            raise TrainingError(f"non-finite weights in {name!r} at step {step}; not saving")
    mfile, ofile = f"model-{step:08d}.safetensors", f"optim-{step:08d}.safetensors"
    write_tensors(ck / mfile, weights)
    write_tensors(ck / ofile, optimizer_tensors(opts))
    write_json(ck / "checkpoint.json", {"step": step, "model": mfile, "optim": ofile})
    for old in ck.glob("*.safetensors"):
        if old.name not in (mfile, ofile):
            old.unlink()


def load_checkpoint(d: Path, model: TinyLm, opts: Optimizers) -> int:
    """Restore the latest checkpoint; returns its step (0 when there is none)."""
    ck = d / CKPT_DIR
    if not (ck / "checkpoint.json").exists():
        return 0
    info = read_json(ck / "checkpoint.json")
    registry.load_weights(model, read_tensors(ck / info["model"]), ck / info["model"])
    load_optimizer_tensors(opts, read_tensors(ck / info["optim"]), ck / info["optim"])
    return int(info["step"])


# ---------------------------------------------------------------------------- runs


@dataclass
class TrainResult:
    model_id: str
    status: str
    step: int
    metrics: dict[str, Any]


def train_model(
    store: ArtifactStore,
    *,
    corpus: Corpus | None = None,
    preset: str = "default",
    overrides: dict[str, Any] | None = None,
    model_overrides: dict[str, Any] | None = None,
    model_id: str | None = None,
    device: str = "cpu",
    promote: bool = True,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    distributed: bool | None = None,
) -> TrainResult:
    """Create ``text_models/<model_id>/`` and train it (see the module docstring).

    ``corpus`` defaults to the built-in one. ``promote``: a completed model becomes eligible
    as the default model. ``cancel()`` is polled every step: a cancelled run saves a
    checkpoint at that step and can be resumed with ``resume_training``. ``distributed``:
    train data-parallel in a ``torch.distributed`` group (None: when launched by torchrun);
    rank 0 prepares the data and writes everything, the other ranks' ``corpus`` is unused."""
    with data_parallel(device, distributed) as dp:
        prepare = lambda: _prepare(  # noqa: E731
            store, corpus, preset, overrides, model_overrides, model_id, device, promote,
            world_size=dp.world_size if dp else 1,
        )  # fmt: skip
        mid = prepare() if dp is None else dp.from_main(prepare)
        return _resume(store, mid, device, progress, cancel, dp)


def _prepare(
    store: ArtifactStore,
    corpus: Corpus | None,
    preset: str,
    overrides: dict[str, Any] | None,
    model_overrides: dict[str, Any] | None,
    model_id: str | None,
    device: str,
    promote: bool,
    *,
    world_size: int,
) -> str:
    """Validate, scan the corpus, train the tokenizer, write the token files; the model id."""
    tcfg, mcfg = preset_configs(preset)
    tcfg = TrainConfig.from_dict({**tcfg.to_dict(), **(overrides or {})})
    mcfg = TinyLmConfig.from_dict({**mcfg.to_dict(), **(model_overrides or {})})
    _check_world_size(tcfg, world_size)
    mid = validate_id(model_id, what="text model id") if model_id else new_id("lm")
    corpus = corpus if corpus is not None else Corpus.builtin()
    manifest = corpus.scan()  # a bad corpus fails before anything is written
    with store.lock(KIND, mid):
        meta: dict[str, Any] = {
            "model_id": mid,
            "status": TRAINING,
            "promoted": False,
            "promote_on_complete": promote,
            **registry.created_now(),
            "preset": preset,
            "model_cfg": mcfg.to_dict(),
            "train_cfg": tcfg.to_dict(),
            "device": device,
            "step": 0,
            "corpus": {k: v for k, v in manifest.items() if k != "skipped"}
            | {"n_skipped": len(manifest["skipped"])},
            "metrics": {},
            "torch_version": torch.__version__,
            "package_version": __version__,
            "python_version": platform.python_version(),
        }
        # The folder appears with its meta.json or not at all (a kill leaves no bare folder).
        store.build_item(
            KIND,
            mid,
            lambda tmp: write_json(tmp / "meta.json", {**meta, "updated_at": registry.now_iso()}),
        )
        d = registry.model_dir(store, mid)
        try:
            write_json(
                d / "corpus.json",
                {**manifest, "documents": [doc.name for doc in corpus.documents]},
            )
            tok = BpeTokenizer.train(
                corpus.iter_text(tcfg.tokenizer_sample_chars), vocab_size=tcfg.vocab_size
            )
            tok.save(d / "tokenizer.json")
            tokens = write_token_files(corpus, tok, d, val_fraction=tcfg.val_fraction)
            mcfg = replace(mcfg, vocab_size=tok.vocab_size)
            registry.update_meta(
                store,
                mid,
                model_cfg=mcfg.to_dict(),
                tokenizer={"vocab_size": tok.vocab_size, "sha256": tok.fingerprint()},
                tokens=tokens,
            )
        except BaseException as e:
            registry.update_meta(store, mid, status=FAILED, error=_describe(e))
            raise
    return mid


def _check_world_size(tcfg: TrainConfig, world_size: int) -> None:
    if tcfg.batch_size % world_size:
        raise ValueError(
            f"batch_size {tcfg.batch_size} must be a multiple of the {world_size} "
            "data-parallel processes (each takes an equal slice of the global batch)"
        )


def resume_training(
    store: ArtifactStore,
    model_id: str,
    *,
    device: str | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    distributed: bool | None = None,
) -> TrainResult:
    """Continue a ``training``/``cancelled``/``failed`` model from its latest checkpoint
    (data-parallel like ``train_model`` when ``distributed``)."""
    dev = device or registry.read_meta(store, model_id).get("device", "cpu")
    with data_parallel(dev, distributed) as dp:
        return _resume(store, model_id, dev, progress, cancel, dp)


def _resume(
    store: ArtifactStore,
    model_id: str,
    device: str,
    progress: Progress | None,
    cancel: Callable[[], bool] | None,
    dp: DataParallel | None,
) -> TrainResult:
    main = dp is None or dp.is_main
    with ExitStack() as held:

        def start() -> dict[str, Any]:  # rank 0 only: lock, check and mark the model
            held.enter_context(store.lock(KIND, model_id, timeout=1.0))
            meta = registry.read_meta(store, model_id)
            if meta["status"] not in (TRAINING, CANCELLED, FAILED):
                raise ModelStateError(
                    f"text model {model_id!r} has status {meta['status']!r}; only training, "
                    "cancelled or failed models can be resumed"
                )
            if "tokens" not in meta:
                raise ModelStateError(
                    f"text model {model_id!r} failed before its corpus was tokenised; "
                    "train a new one"
                )
            world_size = dp.world_size if dp else 1
            _check_world_size(TrainConfig.from_dict(meta["train_cfg"]), world_size)
            return registry.update_meta(
                store, model_id, status=TRAINING, error=None, device=device, world_size=world_size
            )

        meta = start() if dp is None else dp.from_main(start)
        try:
            return _run(store, model_id, meta, dp.device if dp else device, progress, cancel, dp)
        except BaseException as e:
            if main:
                status = CANCELLED if isinstance(e, KeyboardInterrupt) else FAILED
                registry.update_meta(store, model_id, status=status, error=_describe(e))
            raise


def _describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _run(
    store: ArtifactStore,
    mid: str,
    meta: dict[str, Any],
    device: str,
    progress: Progress | None,
    cancel: Callable[[], bool] | None,
    dp: DataParallel | None,
) -> TrainResult:
    """The training loop. With ``dp`` every rank runs it on its slice of each global batch;
    only rank 0 evaluates, logs, checkpoints and writes the result (which all ranks return)."""
    main = dp is None or dp.is_main
    d = registry.model_dir(store, mid)
    if not d.is_dir():
        raise ModelStateError(
            f"{d} is not visible here; data-parallel ranks need the artifact root on a "
            "filesystem shared with rank 0"
        )
    tcfg = TrainConfig.from_dict(meta["train_cfg"])
    mcfg = TinyLmConfig.from_dict(meta["model_cfg"])
    train_buf, val_buf = TokenBuffer.open(d, "train"), TokenBuffer.open(d, "val")
    model = TinyLm(mcfg, seed=tcfg.seed).to(device)
    model.train()
    opts = make_optimizers(model, tcfg)
    start = load_checkpoint(d, model, opts)
    if main:
        _truncate_log(d / "train_log.jsonl", start)
    grad_hook = dp.all_reduce_mean if dp is not None else None

    tokens_per_step = tcfg.batch_size * tcfg.seq_len  # the global batch, over all ranks
    t_run = time.perf_counter()
    t_log, losses = time.perf_counter(), []
    val_loss: float | None = None
    rec: dict[str, Any] = {}
    step = start
    status = COMPLETED
    while step < tcfg.steps:
        stop = cancel is not None and cancel()
        if stop if dp is None else dp.any(stop):  # every rank stops at the same step
            status = CANCELLED
            break
        starts = train_buf.sample_starts(tcfg.batch_size, tcfg.seq_len, batch_generator(tcfg, step))
        if dp is not None:
            starts = dp.shard(starts)  # same seeded global batch everywhere; keep our slice
        x, y = train_buf.windows(starts, tcfg.seq_len)
        info = train_step(model, opts, x.to(device), y.to(device), step, tcfg, grad_hook)
        step += 1
        losses.append(info["loss"])
        if not main:
            continue
        last = step == tcfg.steps
        evaluated = step % tcfg.eval_every == 0 or last
        if evaluated:
            val_loss = evaluate_loss(model, val_buf, tcfg.seq_len, tcfg.eval_windows)
        if step % tcfg.log_every == 0 or evaluated:
            now = time.perf_counter()
            rec = {
                "step": step,
                "train_loss": sum(losses) / len(losses),
                "val_loss": val_loss if evaluated else None,
                "lr": info["lr"],
                "adam_lr": info["adam_lr"],
                "grad_norm": info["grad_norm"],
                "tokens_per_s": len(losses) * tokens_per_step / max(now - t_log, 1e-9),
                "tokens": step * tokens_per_step,
                "seconds": round(now - t_run, 3),
            }
            append_jsonl(d / "train_log.jsonl", rec)
            t_log, losses = now, []
        if step % tcfg.checkpoint_every == 0 and not last:
            save_checkpoint(d, step, model, opts)
        if progress is not None:
            progress(step, tcfg.steps, {**rec, "loss": info["loss"], "val_loss": val_loss})

    elapsed = time.perf_counter() - t_run
    trained = step - start

    def cancelled() -> TrainResult:
        if step > start:
            save_checkpoint(d, step, model, opts)
        registry.update_meta(store, mid, status=CANCELLED, step=step)
        return TrainResult(mid, CANCELLED, step, {})

    def completed() -> TrainResult:
        weights = model.state_dict()
        write_tensors(d / WEIGHTS_FILE, weights)
        save_checkpoint(d, step, model, opts)  # lets a later run extend training from here
        final_val = (
            val_loss
            if val_loss is not None
            else evaluate_loss(model, val_buf, tcfg.seq_len, tcfg.eval_windows)
        )
        metrics = {
            "train_loss": rec.get("train_loss"),
            "val_loss": final_val,
            "val_ppl": math.exp(min(final_val, 50.0)),
            "tokens_per_s": trained * tokens_per_step / elapsed
            if trained and elapsed > 0
            else None,
            "seconds": round(elapsed, 2),
            "train_tokens_seen": step * tokens_per_step,
            "n_params": model.num_params(),
        }
        reference = (
            tinylm_reference(
                model,
                BpeTokenizer.load(d / "tokenizer.json"),
                val_buf,
                chunk_tokens=REFERENCE_CHUNK_TOKENS,
            )
            if len(val_buf) > REFERENCE_CHUNK_TOKENS + 1
            else None
        )
        registry.update_meta(
            store,
            mid,
            reference=reference,
            status=COMPLETED,
            step=step,
            metrics=metrics,
            weights_sha256=weights_sha256(weights),
            promoted=bool(meta.get("promote_on_complete", False)),
            completed_at=registry.now_iso(),
        )
        return TrainResult(mid, COMPLETED, step, metrics)

    finish = cancelled if status == CANCELLED else completed
    return finish() if dp is None else dp.from_main(finish)


def _truncate_log(path: Path, step: int) -> None:
    """Drop log records past the checkpoint being resumed (they will be written again)."""
    if not path.exists():
        return
    if step == 0:
        path.unlink()
        return
    records = [r for r in read_jsonl(path) if int(r.get("step", 0)) <= step]
    text = "".join(json.dumps(r, allow_nan=False, ensure_ascii=False) + "\n" for r in records)
    atomic_write_text(path, text)


def read_train_log(store: ArtifactStore, model_id: str) -> list[dict[str, Any]]:
    path = registry.model_dir(store, model_id) / "train_log.jsonl"
    return read_jsonl(path) if path.exists() else []


def corpus_from_args(paths: Sequence[str] | None, *, skip_bad_files: bool = False) -> Corpus:
    """The corpus for CLI/API arguments: files/folders, or the built-in corpus when empty."""
    return Corpus.from_spec(paths, on_bad_file="skip" if skip_bad_files else "error")
