"""Trained text models in the artifact store: meta, status, promotion, loading.

A model lives in ``text_models/<model_id>/``::

    meta.json            status, promoted, configs, corpus/tokenizer facts, metrics, versions
    tokenizer.json       the byte-level BPE tokenizer (``BpeTokenizer``)
    corpus.json          corpus manifest: source, sha256, documents, skipped files
    tokens.json          token-file facts; train_tokens.bin / val_tokens.bin (memory-mapped)
    train_log.jsonl      one record per logged step (step, train_loss, val_loss, lr, tokens_per_s)
    checkpoints/         latest resumable checkpoint (model + optimizer tensors, checkpoint.json)
    model.safetensors    final weights (written when training completes)

Statuses: ``training``, ``completed``, ``failed``, ``cancelled`` and ``sleep_candidate`` (a
model written by ``ttt sleep``, ``ttt.text.sleep``). ``promoted`` and ``rejected`` are separate
flags. The default model for every command is the newest model that is **promoted** and
``completed``; a failed, cancelled, rejected or unpromoted model, and a sleep candidate, are
never picked silently — ask for them by id. Promoting a sleep candidate (``ttt lm promote``)
turns it into a ``completed``, promoted model (``promoted_from: "sleep_candidate"`` records
where it came from); rejecting it (``ttt lm reject``) marks it ``rejected`` and it stays a
candidate that nothing uses.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ttt.models.protocol import FastWeightLm
from ttt.models.tinylm import TinyLm, TinyLmConfig
from ttt.models.tokenizer import BpeTokenizer
from ttt.store import (
    ArtifactStore,
    CorruptFileError,
    LockTimeoutError,
    NotFoundError,
    StoreError,
    read_json,
    read_tensors,
    validate_id,
    write_json,
)

if TYPE_CHECKING:
    from ttt.models.tiny import TinyLmBackend

KIND = "text_models"
TRAINING, COMPLETED, FAILED, CANCELLED, SLEEP_CANDIDATE = (
    "training",
    "completed",
    "failed",
    "cancelled",
    "sleep_candidate",
)
STATUSES = (TRAINING, COMPLETED, FAILED, CANCELLED, SLEEP_CANDIDATE)
PROMOTABLE = frozenset({COMPLETED, SLEEP_CANDIDATE})
WEIGHTS_FILE = "model.safetensors"


# Reported, never stored: a ``training`` model whose trainer is gone (killed, crashed, the
# machine restarted). ``ttt lm train --resume ID`` continues it from its last checkpoint.
INTERRUPTED = "interrupted"


class ModelStateError(ValueError):
    """An operation that the model's status does not allow (e.g. promoting a failed model)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def weights_sha256(tensors: Mapping[str, Tensor]) -> str:
    """sha256 over names, dtypes, shapes and raw bytes (sorted by name)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()


# ---------------------------------------------------------------------------- meta


def model_dir(store: ArtifactStore, model_id: str, *, must_exist: bool = True) -> Path:
    return store.item_dir(KIND, validate_id(model_id, what="text model id"), must_exist=must_exist)


def read_meta(store: ArtifactStore, model_id: str) -> dict[str, Any]:
    d = model_dir(store, model_id)
    path = d / "meta.json"
    if not path.exists():
        raise NotFoundError(f"text model {model_id!r} has no meta.json ({path})")
    meta = read_json(path)
    if meta.get("status") not in STATUSES:
        raise CorruptFileError(f"{path}: unknown status {meta.get('status')!r}")
    return meta


def write_meta(store: ArtifactStore, model_id: str, meta: dict[str, Any]) -> None:
    meta = {**meta, "updated_at": now_iso()}
    write_json(model_dir(store, model_id) / "meta.json", meta)


def update_meta(store: ArtifactStore, model_id: str, **changes: Any) -> dict[str, Any]:
    """Read-modify-write of meta.json (callers hold the model's lock)."""
    meta = read_meta(store, model_id)
    meta.update(changes)
    write_meta(store, model_id, meta)
    return meta


def list_models(store: ArtifactStore) -> list[dict[str, Any]]:
    """Meta of every readable model, oldest first (unreadable folders are skipped)."""
    out = []
    for mid in store.list_ids(KIND):
        try:
            out.append(read_meta(store, mid))
        except StoreError:
            continue
    out.sort(key=lambda m: (m.get("created_at_unix", 0), m.get("model_id", "")))
    return out


def trainer_alive(store: ArtifactStore, model_id: str) -> bool:
    """Is a process training ``model_id`` now? The trainer holds the model's lock for its
    whole run (``ttt.models.train``), and the OS releases it when the process dies."""
    try:
        with store.lock(KIND, model_id, timeout=0):
            return False
    except LockTimeoutError:
        return True


def reported_status(store: ArtifactStore, meta: Mapping[str, Any]) -> str:
    """The status to show: ``interrupted`` for a ``training`` model that nobody trains."""
    status = str(meta["status"])
    if status != TRAINING or trainer_alive(store, meta["model_id"]):
        return status
    time.sleep(0.05)  # a trainer between preparing and training holds no lock for a moment
    fresh = read_meta(store, meta["model_id"])
    if fresh["status"] != TRAINING or trainer_alive(store, meta["model_id"]):
        return str(fresh["status"])
    return INTERRUPTED


def is_default_eligible(meta: Mapping[str, Any]) -> bool:
    """Promoted and completed. A ``sleep_candidate`` never is, whatever its flags say: only
    ``promote`` (which makes it ``completed``) puts it into use."""
    return bool(meta.get("promoted")) and meta.get("status") == COMPLETED


def default_model_id(store: ArtifactStore) -> str | None:
    """The newest promoted, completed model (a promoted sleep candidate included)."""
    eligible = [m for m in list_models(store) if is_default_eligible(m)]
    return str(eligible[-1]["model_id"]) if eligible else None


def resolve_model_id(store: ArtifactStore, model_id: str | None) -> str:
    """``model_id`` if given (it must exist), else the default model."""
    if model_id:
        read_meta(store, model_id)
        return model_id
    mid = default_model_id(store)
    if mid is None:
        raise NotFoundError(
            "no completed, promoted text model in "
            f"{store.kind_dir(KIND)}; train one with `ttt lm train`, or promote one with "
            "`ttt lm promote <model_id>` (see `ttt lm list`)"
        )
    return mid


def promote(store: ArtifactStore, model_id: str) -> dict[str, Any]:
    """Mark a completed model (or a sleep candidate, which becomes ``completed``) as usable
    by default."""
    with store.lock(KIND, model_id, timeout=5.0):
        meta = read_meta(store, model_id)
        if meta["status"] not in PROMOTABLE:
            raise ModelStateError(
                f"text model {model_id!r} has status {meta['status']!r}; only "
                f"{' or '.join(sorted(PROMOTABLE))} models can be promoted"
            )
        changes: dict[str, Any] = {"promoted": True, "rejected": False, "promoted_at": now_iso()}
        if meta["status"] == SLEEP_CANDIDATE:
            changes.update(status=COMPLETED, promoted_from=SLEEP_CANDIDATE)
        return update_meta(store, model_id, **changes)


def reject(store: ArtifactStore, model_id: str) -> dict[str, Any]:
    """Withdraw a model from default use (and mark it rejected); its files are kept."""
    with store.lock(KIND, model_id, timeout=5.0):
        meta = read_meta(store, model_id)
        if meta["status"] == TRAINING:
            raise ModelStateError(f"text model {model_id!r} is still training")
        return update_meta(store, model_id, promoted=False, rejected=True, rejected_at=now_iso())


# ---------------------------------------------------------------------------- loading


def load_weights(model: TinyLm, tensors: Mapping[str, Tensor], path: Path) -> None:
    """Copy ``tensors`` into ``model``; a missing, extra or mis-shaped tensor names ``path``."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CorruptFileError(
            f"{path}: tensors do not match the model (missing {missing}, extra {extra})"
        )
    for name, t in tensors.items():
        if t.shape != expected[name].shape:
            raise CorruptFileError(
                f"{path}: tensor {name!r} has shape {tuple(t.shape)}, model expects "
                f"{tuple(expected[name].shape)}"
            )
    model.load_state_dict(dict(tensors))


def backend_of(meta: Mapping[str, Any]) -> str:
    """``"tinylm"`` (trained here) or ``"hf"`` (imported pretrained model)."""
    return str(meta.get("backend") or "tinylm")


def load_model(
    store: ArtifactStore, model_id: str | None = None, *, device: str = "cpu"
) -> FastWeightLm:
    """Load a model for use through the protocol (default: ``default_model_id``): a
    ``TinyLmBackend`` or an ``HfCausalLm``.

    Raises ``NotFoundError`` for an unknown id or a missing pretrained file,
    ``ModelStateError`` for a model without final weights (still training, failed or
    cancelled), ``CorruptFileError`` for NaN/inf or tampered weights."""
    mid = resolve_model_id(store, model_id)
    meta = read_meta(store, mid)
    if backend_of(meta) == "hf":
        from ttt.models.pretrained import load_pretrained

        return load_pretrained(meta, model_dir=model_dir(store, mid), device=device)
    return load_tinylm(store, mid, device=device)


def load_tinylm(
    store: ArtifactStore, model_id: str | None = None, *, device: str = "cpu"
) -> TinyLmBackend:
    """Load a TinyLm's final weights and tokenizer (``ModelStateError`` for another backend:
    the caller needs TinyLm's own structure, e.g. training or the gradient red team)."""
    from ttt.models.tiny import TinyLmBackend

    mid = resolve_model_id(store, model_id)
    meta = read_meta(store, mid)
    if backend_of(meta) != "tinylm":
        raise ModelStateError(
            f"text model {mid!r} is a {backend_of(meta)!r} model; this needs a TinyLm "
            "(train one with `ttt lm train`)"
        )
    d = model_dir(store, mid)
    path = d / WEIGHTS_FILE
    if not path.exists():
        raise ModelStateError(
            f"text model {mid!r} has status {meta['status']!r} and no final weights; "
            f"resume it with `ttt lm train --resume {mid}`"
        )
    tensors = read_tensors(path)  # CorruptFileError on NaN/inf
    if meta.get("weights_sha256") and weights_sha256(tensors) != meta["weights_sha256"]:
        raise CorruptFileError(f"{path}: weights do not match weights_sha256 in meta.json")
    cfg = TinyLmConfig.from_dict(meta["model_cfg"])
    model = TinyLm(cfg, seed=int(meta.get("train_cfg", {}).get("seed", 0)))
    load_weights(model, tensors, path)
    model.to(device).eval()
    tok = BpeTokenizer.load(d / "tokenizer.json")
    if tok.vocab_size != cfg.vocab_size:
        raise CorruptFileError(
            f"{d / 'tokenizer.json'}: vocabulary of {tok.vocab_size} does not match the "
            f"model's {cfg.vocab_size}"
        )
    if not meta.get("weights_sha256"):
        meta = {**meta, "weights_sha256": weights_sha256(tensors)}
    return TinyLmBackend(mid, model, tok, meta)


def created_now() -> dict[str, Any]:
    return {"created_at": now_iso(), "created_at_unix": time.time()}
