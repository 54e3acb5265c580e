"""Sleep for pretrained (HF) models: audited chat memories consolidated into a core adapter.

The same harvest and audit as TinyLm's sleep (``ttt.text.sleep``); the consolidation differs:
the core of an imported model is its pretrained file plus the adapters we made (alignment,
earlier sleeps), so a sleep trains **one more LoRA adapter** on the approved memories (each
read as a user turn in the chat template, as the chat writes it) mixed with core text (windows
of the built-in reference text, ``core_ratio`` of every batch), and with ``method="ewc"``
adds ``λ · Σ F_i θ_i²``: the adapter starts at zero, ``F`` is the diagonal empirical Fisher of
the core text w.r.t. the adapter's parameters at zero (normalised to mean 1), so the
directions core knowledge depends on are the ones the adapter may not use. ``replay`` is the
same mix without the penalty (trained beside an EWC sleep on the same batches).

The candidate is a new text model with the parent's source and adapters plus this one
(``sleep_candidate``, promoted only by ``ttt lm promote``). With ``residual=True`` the adapter
is **not** merged: it has the shape of the fast weights and becomes the starting value of every
new session's fast weights on the candidate (the "adapter residual": the next day's fast
weights start from the consolidated delta); ``benchmarks/bench_sleep_hf.py`` measures day-2
recall and forgetting of both against a fresh start.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ttt.models import registry
from ttt.models.hf import HfCausalLm, LoraSettings
from ttt.models.pretrained import (
    core_weights_sha256,
    load_adapters,
    load_folder,
    load_pretrained,
    measure_references,
    reference_texts,
)
from ttt.models.protocol import Example
from ttt.models.reference import chat_examples, text_examples
from ttt.models.sources import ModelSource, file_sha256
from ttt.safety.auditor import Auditor, AuditorConfig, record_flagged
from ttt.store import (
    SCHEMA_VERSION,
    TMP_PREFIX,
    AlreadyExistsError,
    ArtifactStore,
    new_id,
    write_json,
    write_tensors,
)
from ttt.text.sleep import (
    MANIFEST_FILE,
    PromptSignals,
    SleepConfig,
    SleepError,
    SleepResult,
    _memory_record,
    harvest,
)

ADAPTER_PREFIX = "sleep_adapter"
RESIDUAL_FILE = "fast_init.safetensors"


def _mean_loss(lm: HfCausalLm, examples: Sequence[Example]) -> float:
    with torch.no_grad():
        return float(lm.example_losses([lm.prepare(e) for e in examples]).mean())


def _fisher(lm: HfCausalLm, core: Sequence[Example]) -> dict[str, Tensor]:
    """Diagonal empirical Fisher of the core windows w.r.t. the adapter (mean squared
    per-window gradient), normalised to mean 1 over all entries."""
    params = lm.plastic()
    acc = {n: torch.zeros_like(p) for n, p in params.items()}
    for ex in core:
        loss = lm.example_losses([lm.prepare(ex)])[0]
        for (n, _), g in zip(
            params.items(), torch.autograd.grad(loss, list(params.values())), strict=True
        ):
            acc[n] += g.detach().pow(2) / len(core)
    total = sum(float(v.sum()) for v in acc.values())
    count = sum(v.numel() for v in acc.values())
    mean = total / count if count else 1.0
    return {n: v / mean if mean > 0 else v for n, v in acc.items()}


def _consolidate(
    lm: HfCausalLm,
    memories: Sequence[Example],
    core: Sequence[Example],
    cfg: SleepConfig,
    fisher: dict[str, Tensor] | None,
    ewc_lambda: float,
    progress: Callable[[int], None] | None,
    cancel: Callable[[], bool] | None,
) -> dict[str, Any] | None:
    params = lm.plastic()
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(lm.initial_plastic()[n])
    opt = torch.optim.AdamW(list(params.values()), lr=cfg.lr, weight_decay=0.0)
    rng = random.Random(cfg.seed)
    losses, penalties = [], []
    for step in range(cfg.steps):
        if cancel is not None and cancel():
            return None
        batch = [rng.choice(memories) for _ in range(cfg.batch_size - cfg.n_core)]
        batch += [rng.choice(core) for _ in range(cfg.n_core)]
        loss = lm.example_losses([lm.prepare(e) for e in batch]).mean()
        penalty = torch.zeros(())
        if fisher is not None and ewc_lambda > 0:
            penalty = sum((fisher[n] * p.pow(2)).sum() for n, p in params.items()) * ewc_lambda  # type: ignore[assignment]
        opt.zero_grad()
        (loss + penalty).backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), cfg.grad_clip)
        opt.step()
        losses.append(float(loss.detach()))
        penalties.append(float(penalty.detach()))
        if progress is not None:
            progress(step + 1)
    return {"loss": losses, "penalty": penalties}


def run_sleep_hf(
    store: ArtifactStore,
    model_id: str,
    cfg: SleepConfig,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> SleepResult:
    """Harvest → audit → consolidate into a core adapter → evaluate → a ``sleep_candidate``."""
    t_start = time.perf_counter()
    residual = cfg.residual
    meta = registry.read_meta(store, model_id)
    parent_dir = registry.model_dir(store, model_id)
    lm = load_pretrained(meta, model_dir=parent_dir, device=cfg.device)
    parent_sha = lm.weights_sha256
    audit_cfg = AuditorConfig.from_dict(cfg.auditor)
    sessions, skipped, memories = harvest(store, model_id, parent_sha, cfg.sessions)
    if not memories:
        raise SleepError(
            f"no chat turns to consolidate for model {model_id!r} "
            f"({len(sessions)} matching session(s), {len(skipped)} skipped)"
        )
    reference = meta.get("chat_reference") or meta.get("reference")
    auditor = Auditor(audit_cfg, model_signals=PromptSignals(lm, reference))
    decisions = auditor.review(memories)
    flagged_written = record_flagged(
        store, list(zip(memories, decisions, strict=True)), model_id=model_id
    )
    approved = [m for m, dec in zip(memories, decisions, strict=True) if dec.approved]
    if not approved:
        raise SleepError(
            f"the auditor rejected all {len(memories)} memories; nothing to consolidate"
        )

    # The trainable adapter: the fast weights' shape for a residual, else the same LoRA
    # layout with the sleep's own seed.
    src = ModelSource.from_dict(meta["source"])
    src_sha = str(meta.get("source_sha256") or meta["weights_sha256"])
    adapters = load_adapters(meta, parent_dir)
    fast = LoraSettings.from_dict(meta.get("lora") or {})
    work = HfCausalLm.load(
        load_folder(src, src_sha),
        fast,
        model_id=model_id,
        meta=meta,
        device=cfg.device,
        core_adapters=adapters,
    )
    mem_ex = chat_examples(work, [m.text for m in approved])
    core_ex = text_examples(
        work,
        reference_texts(),
        chunk_tokens=64,
        n_windows=max(cfg.fisher_windows, cfg.eval_windows),
    )
    eval_core = core_ex[: cfg.eval_windows]
    before = {"core_loss": _mean_loss(work, eval_core), "session_loss": _mean_loss(work, mem_ex)}
    fisher = _fisher(work, core_ex[: cfg.fisher_windows]) if cfg.method == "ewc" else None
    runs = [cfg.method] + (["replay"] if cfg.method == "ewc" and cfg.compare_replay else [])
    results: dict[str, dict[str, Any]] = {}
    trained: dict[str, dict[str, Tensor]] = {}
    for k, method in enumerate(runs):

        def step(s: int, k: int = k) -> None:
            if progress is not None:
                progress(k * cfg.steps + s, cfg.steps * len(runs))

        lam = cfg.ewc_lambda if method == "ewc" else 0.0
        info = _consolidate(work, mem_ex, core_ex, cfg, fisher, lam, step, cancel)
        if info is None:
            return SleepResult(None, {"status": "cancelled"})
        after = {"core_loss": _mean_loss(work, eval_core), "session_loss": _mean_loss(work, mem_ex)}
        results[method] = {
            "before": before,
            "after": after,
            "training": info,
            "retention_change_pct": 100 * (after["core_loss"] / before["core_loss"] - 1),
            "acquisition_drop_pct": 100 * (1 - after["session_loss"] / before["session_loss"]),
        }
        trained[method] = {n: p.detach().cpu().contiguous() for n, p in work.plastic().items()}

    cid = cfg.candidate_id or new_id("sleep")
    final = store.item_dir(registry.KIND, cid, must_exist=False)
    if final.exists():
        raise AlreadyExistsError(f"text model {cid!r} already exists")
    final.parent.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}sleep-", dir=final.parent))
    try:
        tensors = trained[cfg.method]
        cmeta: dict[str, Any] = {
            **{k: v for k, v in meta.items() if k not in ("reference", "chat_reference", "align")},
            "model_id": cid,
            "status": registry.SLEEP_CANDIDATE,
            "promoted": False,
            "rejected": False,
            "parent_model_id": model_id,
            "origin": "sleep",
            # The source's own hash: weights_sha256 below also covers the adapters (a parent
            # imported before source_sha256 was recorded has only weights_sha256).
            "source_sha256": src_sha,
            **registry.created_now(),
        }
        for spec in meta.get("core_adapters") or []:
            shutil.copy2(parent_dir / spec["file"], d / spec["file"])
        shas = [str(s["sha256"]) for s in meta.get("core_adapters") or []]
        if residual:
            write_tensors(d / RESIDUAL_FILE, tensors)
            cmeta["fast_init"] = {"file": RESIDUAL_FILE, "sha256": file_sha256(d / RESIDUAL_FILE)}
        else:
            name = f"{ADAPTER_PREFIX}-{cid}.safetensors"
            write_tensors(d / name, tensors)
            sha = file_sha256(d / name)
            shas.append(sha)
            spec = {
                "file": name,
                "sha256": sha,
                "rank": fast.rank,
                "alpha": fast.alpha,
                "targets": list(fast.targets),
                "kind": "sleep",
            }
            cmeta["core_adapters"] = [*(meta.get("core_adapters") or []), spec]
        cmeta["weights_sha256"] = core_weights_sha256(src_sha, shas)
        metrics = {k: v for k, v in results[cfg.method].items() if k != "training"}
        if "replay" in results and cfg.method == "ewc":
            metrics["baseline_replay"] = {
                k: v for k, v in results["replay"].items() if k != "training"
            }
        records = [_memory_record(m, dec) for m, dec in zip(memories, decisions, strict=True)]
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "candidate_id": cid,
            "status": "completed",
            "parent_model_id": model_id,
            "parent_weights_sha256": parent_sha,
            "config": cfg.to_dict(),
            "residual": residual,
            "auditor_config": audit_cfg.to_dict(),
            "sessions": sessions,
            "skipped_sessions": skipped,
            "memories": records,
            "counts": {
                "memories": len(memories),
                "approved": len(approved),
                "rejected": len(memories) - len(approved),
            },
            "flagged_written": flagged_written,
            "completions_included": False,
            "metrics": metrics,
            "consolidation": {
                "method": cfg.method,
                "into": "fast_init" if residual else "core_adapter",
                "training": {m: r["training"] for m, r in results.items()},
            },
            "seconds": round(time.perf_counter() - t_start, 2),
        }
        cmeta["sleep"] = {
            "method": cfg.method,
            "residual": residual,
            "sessions": sessions,
            "approved": len(approved),
            "rejected": len(memories) - len(approved),
            "retention_change_pct": results[cfg.method]["retention_change_pct"],
            "acquisition_drop_pct": results[cfg.method]["acquisition_drop_pct"],
        }
        write_json(d / MANIFEST_FILE, manifest)
        cand = load_pretrained(cmeta, model_dir=d, device=cfg.device)
        cmeta.update(measure_references(cand, 8))
        write_json(d / "meta.json", {**cmeta, "updated_at": registry.now_iso()})
        with store.lock(registry.KIND, cid, timeout=5.0):
            if final.exists():
                raise AlreadyExistsError(f"text model {cid!r} already exists")
            os.rename(d, final)
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    return SleepResult(cid, manifest)
