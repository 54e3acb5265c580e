"""Nano base checkpoints in the artifact store: pretrain, list, load.

A base is written once under ``base/<base_id>/`` and never overwritten in place; sessions
record the base id and the hash of its weights, so re-pretraining never orphans a session.

    ttt nano pretrain --preset default      # ~30 s on 2 CPU cores
"""

from __future__ import annotations

import hashlib
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import torch
from torch import Tensor

from ttt import __version__
from ttt.nano.model import NanoSSMConfig, model_signature
from ttt.nano.pretrain import PretrainConfig, pretrain
from ttt.store import (
    ArtifactStore,
    NotFoundError,
    StoreError,
    append_jsonl,
    new_id,
    read_json,
    read_tensors,
    validate_id,
    write_json,
    write_tensors,
)

PRESETS = ("default", "tiny")


def weights_hash(params: dict[str, Tensor]) -> str:
    """sha256 over names, dtypes, shapes and raw bytes of the weights (sorted by name)."""
    h = hashlib.sha256()
    for name in sorted(params):
        t = params[name].detach().contiguous().cpu()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def pretrain_config_for(preset: str, seed: int) -> tuple[PretrainConfig, NanoSSMConfig]:
    if preset not in PRESETS:
        raise ValueError(f"unknown pretrain preset {preset!r} (known: {', '.join(PRESETS)})")
    if preset == "tiny":
        return PretrainConfig.tiny(seed=seed), NanoSSMConfig()
    return PretrainConfig(seed=seed), NanoSSMConfig()


def pretrain_base(
    store: ArtifactStore,
    *,
    preset: str = "default",
    seed: int = 0,
    base_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> str:
    """Pretrain a new Nano base and write it under ``base/<base_id>/``. Returns the id."""
    pcfg, mcfg = pretrain_config_for(preset, seed)
    bid = validate_id(base_id, what="base id") if base_id else new_id("base")
    if store.exists("base", bid):
        raise StoreError(f"base {bid!r} already exists; bases are never overwritten")

    def _progress(step: int, total: int, info: dict[str, Any]) -> None:
        if cancel is not None and cancel():
            raise KeyboardInterrupt("pretraining cancelled")
        if progress is not None:
            progress(step, total)

    t0 = time.perf_counter()
    params, mcfg, log = pretrain(pcfg, mcfg, progress=_progress)
    elapsed = time.perf_counter() - t0
    params = {k: v.detach().contiguous() for k, v in params.items()}
    for k, v in params.items():
        if not torch.isfinite(v).all():
            raise ValueError(f"pretraining produced non-finite weights in {k!r}; not saving")
    d = store.create_item("base", bid)
    write_tensors(d / "weights.safetensors", params)
    for rec in log:
        append_jsonl(d / "pretrain_log.jsonl", rec)
    final = log[-1] if log else {}
    write_json(
        d / "meta.json",
        {
            "base_id": bid,
            "created_at": now_iso(),
            "created_at_unix": int(time.time()),
            "model_cfg": mcfg.to_dict(),
            "pretrain_cfg": pcfg.to_dict(),
            "preset": preset,
            "base_ckpt_hash": weights_hash(params),
            "model_signature": model_signature(mcfg),
            "metrics": {
                "final_loss": final.get("loss"),
                "seconds": round(elapsed, 2),
                "steps": pcfg.steps,
            },
            "torch_version": torch.__version__,
            "package_version": __version__,
            "python_version": platform.python_version(),
        },
    )
    return bid


def list_bases(store: ArtifactStore) -> list[dict[str, Any]]:
    """Meta of every readable base, oldest first."""
    out = []
    for bid in store.list_ids("base"):
        try:
            out.append(read_json(store.item_dir("base", bid) / "meta.json"))
        except StoreError:
            continue
    out.sort(key=lambda m: (m.get("created_at_unix", 0), m.get("base_id", "")))
    return out


def latest_base_id(store: ArtifactStore) -> str | None:
    bases = list_bases(store)
    return bases[-1]["base_id"] if bases else None


def load_base(
    store: ArtifactStore, base_id: str
) -> tuple[dict[str, Tensor], NanoSSMConfig, dict[str, Any]]:
    """Weights, model config and meta of a base; verifies the weights hash."""
    d = store.item_dir("base", validate_id(base_id, what="base id"))
    meta_path = d / "meta.json"
    if not meta_path.exists():
        raise NotFoundError(f"base {base_id!r} not found under {store.kind_dir('base')}")
    meta = read_json(meta_path)
    params = read_tensors(d / "weights.safetensors")
    if weights_hash(params) != meta.get("base_ckpt_hash"):
        raise StoreError(
            f"{d / 'weights.safetensors'}: weights do not match base_ckpt_hash in meta.json"
        )
    return params, NanoSSMConfig.from_dict(meta["model_cfg"]), meta
