"""Training corpora for TinyLm: folders, file lists, or the built-in offline corpus; a
train/validation split by document; memory-mapped token files for corpora of any size.

Sources
    * a folder: every ``*.txt, *.md, *.text, *.tex, *.rst`` below it (recursive, sorted);
    * a list of files (and/or folders);
    * ``builtin``: Python's own documentation, gathered at run time without any download —
      the language-reference help topics (``pydoc_data.topics``) plus the docstrings of a
      fixed list of standard-library modules (``inspect``). Deterministic for one Python
      version; the corpus hash is recorded with every model.

Non-UTF-8 files: by default ``CorpusError`` names the file and the byte offset
(``on_bad_file="error"``); with ``on_bad_file="skip"`` the file is left out and listed under
``skipped`` in the manifest (a warning the CLI prints and ``corpus.json`` records).

Streaming: files are read in ~1 MiB pieces (cut at a newline), tokenised piece by piece and
appended to ``train_tokens.bin`` / ``val_tokens.bin`` (raw little-endian ``uint16`` when the
vocabulary fits in 65,536 ids, else ``uint32``). Training memory-maps those files
(``TokenBuffer``): **2 bytes per token on disk (4 with a vocabulary > 65,536), and in RAM only
the sampled windows** (``batch × (seq_len + 1) × 8`` bytes as int64) plus whatever pages the OS
chooses to cache. Each document is stored as ``<|bos|> tokens <|eos|>``.

    corpus = Corpus.from_paths([Path("notes/")])      # or Corpus.builtin()
    manifest = corpus.scan()                           # counts, sha256, skipped files
    info = write_token_files(corpus, tok, model_dir)   # train/val split by document
    buf = TokenBuffer.open(model_dir, "train")
"""

from __future__ import annotations

import codecs
import hashlib
import importlib
import inspect
import os
import platform
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ttt.store import StoreError, read_json, write_json

SUFFIXES = (".txt", ".md", ".text", ".tex", ".rst")
CHUNK_BYTES = 1 << 20
BAD_FILE_POLICIES = ("error", "skip")

# Standard-library modules whose docstrings form part of the built-in corpus: pure-Python,
# import without side effects, not deprecated. A module missing from a Python build is left
# out (and the recorded module list and hash say so).
BUILTIN_MODULES: tuple[str, ...] = (
    "abc", "argparse", "ast", "asyncio", "base64", "bisect", "calendar", "cmd", "codecs",
    "collections", "colorsys", "concurrent.futures", "configparser", "contextlib", "copy",
    "csv", "dataclasses", "datetime", "decimal", "difflib", "doctest", "email.message",
    "enum", "filecmp", "fnmatch", "fractions", "ftplib", "functools", "getopt", "gettext",
    "glob", "graphlib", "gzip", "hashlib", "heapq", "hmac", "html.parser", "http.client",
    "http.cookies", "http.server", "imaplib", "inspect", "io", "ipaddress", "itertools",
    "json", "logging", "logging.handlers", "mailbox", "mimetypes", "numbers", "operator",
    "optparse", "os", "pathlib", "pickle", "pkgutil", "platform", "plistlib", "poplib",
    "pprint", "queue", "random", "re", "reprlib", "sched", "secrets", "selectors", "shelve",
    "shlex", "shutil", "smtplib", "socket", "socketserver", "statistics", "string", "struct",
    "subprocess", "tarfile", "tempfile", "textwrap", "threading", "timeit", "tokenize",
    "trace", "traceback", "types", "typing", "unittest", "urllib.parse", "urllib.request",
    "uuid", "warnings", "wave", "weakref", "xml.dom.minidom", "xml.etree.ElementTree",
    "zipfile",
)  # fmt: skip


class CorpusError(ValueError):
    """A corpus that cannot be used: no files, an unreadable or non-UTF-8 file, empty text."""


# ---------------------------------------------------------------------------- documents


@dataclass(frozen=True)
class Document:
    """One document: a file on disk, or text held in memory (the built-in corpus)."""

    name: str
    path: Path | None = None
    text: str | None = None

    def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[str]:
        """The text in pieces of about ``chunk_bytes``, each cut after a newline where one
        exists. ``CorpusError`` names the file and byte offset of invalid UTF-8."""
        if self.text is not None:
            for i in range(0, len(self.text), chunk_bytes):
                yield self.text[i : i + chunk_bytes]
            return
        if self.path is None:
            raise CorpusError(f"document {self.name!r} has neither a path nor text")
        yield from _read_utf8_chunks(self.path, chunk_bytes)


def _read_utf8_chunks(path: Path, chunk_bytes: int) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset = 0
    pending = ""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below; a generator keeps it open
    except OSError as e:
        raise CorpusError(f"{path}: cannot read ({e.strerror or e})") from e
    with f:
        while True:
            raw = f.read(chunk_bytes)
            final = not raw
            try:
                text = decoder.decode(raw, final=final)
            except UnicodeDecodeError as e:
                raise CorpusError(
                    f"{path}: not UTF-8 text (invalid byte 0x{raw[e.start]:02x} at byte offset "
                    f"{offset + e.start}); convert it to UTF-8, remove it, or use "
                    "on_bad_file='skip' (--skip-bad-files)"
                ) from e
            offset += len(raw)
            pending += text
            if final:
                if pending:
                    yield pending
                return
            cut = pending.rfind("\n") + 1
            if cut > 0:
                yield pending[:cut]
                pending = pending[cut:]


def find_files(folder: Path) -> list[Path]:
    """Corpus files under ``folder`` (recursive, sorted, hidden folders skipped)."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.lower().endswith(SUFFIXES) and not name.startswith("."):
                out.append(Path(root) / name)
    return out


# ---------------------------------------------------------------------------- built-in corpus


def _module_document(modname: str) -> str | None:
    try:
        mod = importlib.import_module(modname)
    except ImportError:
        return None
    parts = [f"# {modname}\n\n{inspect.getdoc(mod) or ''}".rstrip()]
    for name in sorted(dir(mod)):
        if name.startswith("_"):
            continue
        obj = getattr(mod, name, None)
        if getattr(obj, "__module__", None) != modname:
            continue
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        parts.append(_object_doc(f"{modname}.{name}", obj))
        if inspect.isclass(obj):
            for mname, member in sorted(vars(obj).items()):
                if mname.startswith("_") or not inspect.isfunction(member):
                    continue
                parts.append(_object_doc(f"{modname}.{name}.{mname}", member))
    text = "\n\n".join(p for p in parts if p)
    return text + "\n"


def _object_doc(qualname: str, obj: Any) -> str:
    doc = inspect.getdoc(obj)
    if not doc:
        return ""
    try:
        sig = str(inspect.signature(obj))
    except (TypeError, ValueError):
        sig = ""
    if "0x" in sig or len(sig) > 300:  # default reprs with addresses are not deterministic
        sig = "(...)"
    return f"## {qualname}{sig}\n\n{doc}"


def builtin_documents() -> list[Document]:
    """The built-in corpus: Python's help topics and standard-library docstrings."""
    try:
        topics: dict[str, str] = importlib.import_module("pydoc_data.topics").topics
    except ImportError:  # pragma: no cover - stripped Python builds
        topics = {}
    docs = [
        Document(name=f"pydoc-topic/{k}", text=f"# {k}\n\n{v.strip()}\n")
        for k, v in sorted(topics.items())
    ]
    # Importing and reading docs of some modules warns (e.g. typing.io is deprecated).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for modname in BUILTIN_MODULES:
            text = _module_document(modname)
            if text is not None and text.strip():
                docs.append(Document(name=f"stdlib/{modname}", text=text))
    if not docs:  # pragma: no cover
        raise CorpusError("the built-in corpus is empty on this Python build")
    return docs


# ---------------------------------------------------------------------------- corpus


@dataclass
class Corpus:
    """An ordered list of documents plus where they came from."""

    documents: list[Document]
    source: str
    on_bad_file: str = "error"
    skipped: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.on_bad_file not in BAD_FILE_POLICIES:
            raise ValueError(
                f"on_bad_file must be one of {BAD_FILE_POLICIES}, got {self.on_bad_file!r}"
            )

    @classmethod
    def builtin(cls) -> Corpus:
        return cls(builtin_documents(), source=f"builtin:python-{platform.python_version()}")

    @classmethod
    def from_paths(
        cls, paths: Sequence[str | os.PathLike[str]], on_bad_file: str = "error"
    ) -> Corpus:
        """Files and folders (folders are searched recursively for corpus files)."""
        if not paths:
            raise CorpusError("no corpus paths given")
        docs: list[Document] = []
        for raw in paths:
            p = Path(raw).expanduser()
            if p.is_dir():
                files = find_files(p)
                if not files:
                    raise CorpusError(
                        f"{p}: no corpus files in this folder (looked for {', '.join(SUFFIXES)})"
                    )
                docs += [Document(name=str(f.relative_to(p.parent)), path=f) for f in files]
            elif p.is_file():
                docs.append(Document(name=p.name, path=p))
            else:
                raise CorpusError(f"{p}: no such file or folder")
        names = [str(d.path.resolve()) for d in docs if d.path is not None]
        if len(set(names)) != len(names):
            raise CorpusError("the same file was given more than once (directly or in a folder)")
        return cls(docs, source="files", on_bad_file=on_bad_file)

    @classmethod
    def from_spec(
        cls, paths: Sequence[str | os.PathLike[str]] | None, on_bad_file: str = "error"
    ) -> Corpus:
        """``paths`` or, when empty/None, the built-in corpus."""
        return cls.from_paths(paths, on_bad_file) if paths else cls.builtin()

    def scan(self) -> dict[str, Any]:
        """Read every document once: validate UTF-8, count, hash. Returns the manifest.

        With ``on_bad_file="skip"`` bad files are dropped from ``documents`` and listed in
        ``skipped``; otherwise the first bad file raises ``CorpusError``."""
        h = hashlib.sha256()
        kept: list[Document] = []
        n_chars = n_bytes = 0
        for doc in self.documents:
            dh = hashlib.sha256()
            chars = nbytes = 0
            try:
                for piece in doc.chunks():
                    data = piece.encode("utf-8", errors="surrogatepass")
                    dh.update(data)
                    chars += len(piece)
                    nbytes += len(data)
            except CorpusError as e:
                if self.on_bad_file == "error":
                    raise
                self.skipped.append({"document": doc.name, "reason": str(e)})
                continue
            if chars == 0:
                self.skipped.append({"document": doc.name, "reason": "empty"})
                continue
            kept.append(doc)
            h.update(f"{doc.name}\0{dh.hexdigest()}\0".encode())
            n_chars += chars
            n_bytes += nbytes
        self.documents = kept
        if not kept:
            raise CorpusError("the corpus has no non-empty documents" + _skipped_note(self))
        return {
            "source": self.source,
            "n_documents": len(kept),
            "n_chars": n_chars,
            "n_bytes": n_bytes,
            "sha256": h.hexdigest(),
            "python_version": platform.python_version(),
            "skipped": list(self.skipped),
        }

    def iter_text(self, max_chars: int | None = None) -> Iterator[str]:
        """Text pieces of all documents in order (for tokenizer training), up to max_chars."""
        total = 0
        for doc in self.documents:
            for piece in doc.chunks():
                if max_chars is not None and total + len(piece) > max_chars:
                    yield piece[: max_chars - total]
                    return
                total += len(piece)
                yield piece


def _skipped_note(corpus: Corpus) -> str:
    if not corpus.skipped:
        return ""
    return f" ({len(corpus.skipped)} skipped: {corpus.skipped[0]['reason']})"


def is_validation(name: str, val_fraction: float) -> bool:
    """Stable split by document name: adding documents never moves an old one across."""
    digest = hashlib.sha256(name.encode("utf-8", errors="surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < val_fraction


# ---------------------------------------------------------------------------- token files


def token_dtype(vocab_size: int) -> np.dtype[Any]:
    return np.dtype("<u2") if vocab_size <= 2**16 else np.dtype("<u4")


def write_token_files(
    corpus: Corpus,
    tokenizer: Any,
    out_dir: Path,
    *,
    val_fraction: float = 0.1,
) -> dict[str, Any]:
    """Tokenise ``corpus`` (already ``scan``-ned) into ``train_tokens.bin`` and
    ``val_tokens.bin`` under ``out_dir``; writes and returns ``tokens.json``.

    Split by document (``is_validation``); at least one document lands on each side when
    there are two or more. A corpus of one document is split inside it: its last
    ``val_fraction`` of tokens (at least one window) becomes validation."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    docs = corpus.documents
    val_names = {d.name for d in docs if is_validation(d.name, val_fraction)}
    if len(docs) >= 2 and not val_names:
        val_names = {min(docs, key=lambda d: hashlib.sha256(d.name.encode()).digest()).name}
    if len(docs) >= 2 and len(val_names) == len(docs):
        val_names.discard(docs[0].name)
    if len(docs) < 2:
        val_names = set()
    dtype = token_dtype(tokenizer.vocab_size)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {s: out_dir / f"{s}_tokens.bin" for s in ("train", "val")}
    tmp = {s: p.with_name(f".tmp-{p.name}") for s, p in paths.items()}
    counts = {"train": 0, "val": 0}
    n_docs = {"train": 0, "val": 0}
    files = {s: open(tmp[s], "wb") for s in tmp}  # noqa: SIM115 - closed in finally
    try:
        for doc in docs:
            split = "val" if doc.name in val_names else "train"
            f = files[split]
            ids: list[int] = [tokenizer.bos_id]
            for piece in doc.chunks():
                ids += tokenizer.encode(piece)
                if len(ids) >= 1 << 16:
                    f.write(np.asarray(ids, dtype=dtype).tobytes())
                    counts[split] += len(ids)
                    ids = []
            ids.append(tokenizer.eos_id)
            f.write(np.asarray(ids, dtype=dtype).tobytes())
            counts[split] += len(ids)
            n_docs[split] += 1
        for f in files.values():
            f.flush()
            os.fsync(f.fileno())
    finally:
        for f in files.values():
            f.close()
    if len(docs) < 2:  # one document: its tail is the validation split
        _split_tail(tmp["train"], tmp["val"], dtype, counts, val_fraction)
    for s in paths:
        os.replace(tmp[s], paths[s])
    info = {
        "dtype": dtype.str,
        "bytes_per_token": dtype.itemsize,
        "train_tokens": counts["train"],
        "val_tokens": counts["val"],
        "train_documents": n_docs["train"],
        "val_documents": n_docs["val"],
        "split": "document" if len(docs) >= 2 else "tail-of-single-document",
        "val_fraction": val_fraction,
    }
    write_json(out_dir / "tokens.json", info)
    return info


def _split_tail(
    train: Path, val: Path, dtype: np.dtype[Any], counts: dict[str, int], frac: float
) -> None:
    n = counts["train"]
    n_val = max(2, int(n * frac))
    if n - n_val < 2:
        raise CorpusError(f"the corpus is too small to split ({n} tokens)")
    data = np.fromfile(train, dtype=dtype, count=n)
    data[n - n_val :].tofile(val)
    with open(train, "r+b") as f:
        f.truncate((n - n_val) * dtype.itemsize)
    counts["train"], counts["val"] = n - n_val, n_val


class TokenBuffer:
    """A memory-mapped token file: random or fixed windows as int64 tensors."""

    def __init__(self, path: Path, dtype: np.dtype[Any], n_tokens: int) -> None:
        self.path = path
        self.n_tokens = n_tokens
        if n_tokens == 0:
            self.data: np.ndarray[Any, Any] = np.zeros(0, dtype=dtype)
        else:
            expected = n_tokens * dtype.itemsize
            size = path.stat().st_size if path.exists() else -1
            if size != expected:
                raise StoreError(
                    f"{path}: expected {expected} bytes for {n_tokens} tokens, found {size}"
                )
            self.data = np.memmap(path, dtype=dtype, mode="r", shape=(n_tokens,))

    @classmethod
    def open(cls, model_dir: Path, split: str) -> TokenBuffer:
        info = read_json(model_dir / "tokens.json")
        return cls(
            model_dir / f"{split}_tokens.bin", np.dtype(info["dtype"]), info[f"{split}_tokens"]
        )

    def __len__(self) -> int:
        return self.n_tokens

    def _need(self, seq_len: int) -> None:
        if self.n_tokens < seq_len + 1:
            raise CorpusError(
                f"{self.path.name}: {self.n_tokens} tokens is too few for windows of "
                f"{seq_len + 1}; use a larger corpus or a smaller seq_len"
            )

    def windows(self, starts: Tensor, seq_len: int) -> tuple[Tensor, Tensor]:
        """Inputs and next-token targets for windows starting at ``starts``: (B, T) each."""
        idx = starts.numpy()[:, None] + np.arange(seq_len + 1)[None, :]  # (B, T+1)
        win = torch.from_numpy(np.asarray(self.data[idx], dtype=np.int64))
        return win[:, :-1], win[:, 1:]

    def sample_starts(self, batch: int, seq_len: int, generator: torch.Generator) -> Tensor:
        """``batch`` uniformly random window starts (B,), drawn from ``generator``."""
        self._need(seq_len)
        return torch.randint(self.n_tokens - seq_len, (batch,), generator=generator)

    def sample(self, batch: int, seq_len: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``batch`` windows at uniformly random offsets (drawn from ``generator``)."""
        return self.windows(self.sample_starts(batch, seq_len, generator), seq_len)

    def eval_starts(self, n_windows: int, seq_len: int) -> Tensor:
        """Fixed, evenly spaced window starts (the same every evaluation)."""
        self._need(seq_len)
        last = self.n_tokens - seq_len - 1
        n = max(1, min(n_windows, last + 1))
        return torch.linspace(0, last, n).round().long()
