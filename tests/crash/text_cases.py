"""Crash cases of the text domains (see ``harness.py``): a chat turn, a Sentry run and TinyLm
training, each on a tiny TinyLm trained once into the template.

Invariants after a SIGKILL at any point:

* chat turn: the store opens, ``chat show`` works, the trace, the events and the committed
  fast weights agree on the turn count, the weights and optimiser state are exactly those
  before the turn or exactly those after it (the uninterrupted run's), no lock is left and
  the next turn commits;
* Sentry run: it is listed, ``sentry show`` works and reads ``completed`` or ``interrupted``
  (never ``running``) with the chunks it logged; no half-made run folder is listed as
  unreadable; the same run id is free again or taken by a complete run;
* TinyLm training: the model reads ``completed`` or ``interrupted`` (never ``training``),
  ``--resume`` finishes it, and the resumed weights equal the uninterrupted run's bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

from harness import CrashCase, Outcome, run_once
from typer.testing import CliRunner

from ttt.cli.main import app
from ttt.store import ArtifactStore

MODEL = "tiny-lm"
SID = "c"
WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "a",
    "mat",
    "and",
    "she",
    "sells",
    "sea",
    "shells",
    "by",
    "the",
    "shore",
    "while",
    "dogs",
    "run",
    "fast",
]
FIRST_TURN = "The cat sat on the mat by the shore."
TURN = "She sells sea shells by the shore while the dogs run fast on the sand. " * 3
SENTRY_TEXT = " ".join(random.Random(1).choice(WORDS) for _ in range(400))


def _cli(root: Path, *args: str) -> str:
    res = CliRunner().invoke(app, [*args, "--artifacts-root", str(root)])
    assert res.exit_code == 0, f"ttt {' '.join(args)} exited {res.exit_code}: {res.output}"
    return res.output


def _corpus(folder: Path) -> Path:
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        lines = [" ".join(rng.choice(WORDS) for _ in range(8)) + "." for _ in range(60)]
        (folder / f"doc{i}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _tiny_model(root: Path) -> None:
    from ttt.models.corpus import Corpus
    from ttt.models.train import train_model

    corpus = _corpus(root.parent / "corpus")
    train_model(
        ArtifactStore(root), corpus=Corpus.from_paths([corpus]), preset="tiny", model_id=MODEL
    )


def _digest(folder: Path) -> str:
    """sha256 over the files of a folder (names and bytes)."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def _after(case: CrashCase, template: Path, ctx: dict[str, Any], read: Any) -> Any:
    """``read(root)`` of the uninterrupted operation, run once on a copy of the template."""
    with tempfile.TemporaryDirectory(prefix="ttt-crash-ref-") as tmp:
        root = Path(tmp) / "artifacts"
        shutil.copytree(template, root, symlinks=True)
        out = run_once(case, root, ctx, None)
        assert out.returncode == 0, out.stderr[-2000:]
        return read(root)


def _no_lock_left(root: Path, kind: str, item: str) -> None:
    with ArtifactStore(root).lock(kind, item, timeout=0):
        pass


# ---------------------------------------------------------------------------- chat turn


def _chat_state(root: Path) -> dict[str, Any]:
    """(n_turns, digest of the committed state folder) of the session."""
    from ttt.text import chat_store as files

    store = ArtifactStore(root)
    d = files.session_dir(store, SID)
    meta = files.read_manifest(d, SID)
    state = d / meta["state_dir"]
    return {"n_turns": int(meta["n_turns"]), "state": _digest(state)}


def prepare_chat(root: Path) -> dict[str, Any]:
    from ttt.text.chat import create_session, send_message

    _tiny_model(root)
    store = ArtifactStore(root)
    create_session(store, model_id=MODEL, session_id=SID, cfg={"chunk_tokens": 16})
    send_message(store, SID, FIRST_TURN, max_tokens=8, temperature=0.0)
    return {"before": _chat_state(root)}


def chat_argv(ctx: dict[str, Any]) -> list[str]:
    return ["chat", "send", SID, TURN, "--max-tokens", "12", "--temperature", "0", "--threads", "1"]


_CHAT_AFTER: dict[str, dict[str, Any]] = {}


def check_chat(root: Path, ctx: dict[str, Any], outcome: Outcome) -> None:
    from ttt.text import chat

    key = ctx["template"]
    if key not in _CHAT_AFTER:
        _CHAT_AFTER[key] = _after(chat_case(), Path(key), ctx, _chat_state)
    before, after = ctx["before"], _CHAT_AFTER[key]
    store = ArtifactStore(root)
    shown = json.loads(_cli(root, "chat", "show", SID, "--json"))
    got = _chat_state(root)
    assert got in (before, after), (
        f"the session is neither the state before the turn nor the one after it: {got}, "
        f"before {before}, after {after}"
    )
    if not outcome.killed:
        assert got == after
    trace = chat.read_trace(store, SID)
    turns = {e["turn"] for e in chat.read_events(store, SID)}
    assert len(trace) == got["n_turns"] == len(shown["trace"]), (len(trace), got, shown.keys())
    assert turns == set(range(got["n_turns"])), f"events of turns {sorted(turns)}"
    _no_lock_left(root, "text_sessions", SID)
    rec = chat.send_message(store, SID, "The dogs run fast.", max_tokens=4, temperature=0.0)
    assert rec["turn"] == got["n_turns"]
    assert len(chat.read_trace(store, SID)) == got["n_turns"] + 1


def chat_case() -> CrashCase:
    return CrashCase("chat_turn", prepare_chat, chat_argv, check_chat, timeout=240)


# ---------------------------------------------------------------------------- Sentry run

RUN = "sentry-crash"


def prepare_sentry(root: Path) -> dict[str, Any]:
    _tiny_model(root)
    return {}


def sentry_argv(ctx: dict[str, Any]) -> list[str]:
    return [
        "sentry", "run", "--text", SENTRY_TEXT, "--model", MODEL, "--chunk-tokens", "32",
        "--id", RUN,
    ]  # fmt: skip


def check_sentry(root: Path, ctx: dict[str, Any], outcome: Outcome) -> None:
    from ttt.text import sentry

    store = ArtifactStore(root)
    listed = {r["run_id"]: r for r in sentry.list_runs(store)}
    assert all(r.get("status") != "unreadable" for r in listed.values()), listed
    if RUN not in listed:  # killed before the run appeared: nothing of it is left
        assert outcome.killed
        assert not store.item_dir("text_runs", RUN).exists()
    else:
        run = sentry.read_run(store, RUN)
        status = run["summary"]["status"]
        assert status in ("completed", "interrupted"), status
        assert status == "completed" or outcome.killed
        events = sentry.read_events(store, RUN)
        assert run["summary"]["n_chunks_done"] == len(events)
        assert [e["chunk"] for e in events] == list(range(len(events)))
        shown = json.loads(_cli(root, "sentry", "show", RUN, "--json"))
        assert shown["summary"]["status"] == status
        _no_lock_left(root, "text_runs", RUN)
        return
    res = CliRunner().invoke(app, [*sentry_argv(ctx), "--artifacts-root", str(root)])
    assert res.exit_code == 0, res.output  # the id is free again


def sentry_case() -> CrashCase:
    def ready(root: Path, ctx: dict[str, Any]) -> bool:
        return (root / "text_runs").exists()

    return CrashCase("sentry_run", prepare_sentry, sentry_argv, check_sentry, ready, timeout=240)


# ---------------------------------------------------------------------------- TinyLm training

TRAINED = "tiny-train"


def prepare_train(root: Path) -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    return {"corpus": str(_corpus(root.parent / "corpus-train"))}


def train_argv(ctx: dict[str, Any]) -> list[str]:
    return [
        "lm", "train", "--corpus", ctx["corpus"], "--preset", "tiny", "--steps", "30",
        "--set", "checkpoint_every=10", "--id", TRAINED, "--threads", "1", "-q",
    ]  # fmt: skip


def _weights(root: Path) -> str:
    from ttt.models import registry

    return _digest(registry.model_dir(ArtifactStore(root), TRAINED) / "weights")


_TRAIN_AFTER: dict[str, str] = {}


def check_train(root: Path, ctx: dict[str, Any], outcome: Outcome) -> None:
    from ttt.models import registry

    key = ctx["template"]
    if key not in _TRAIN_AFTER:
        _TRAIN_AFTER[key] = _after(train_case(), Path(key), ctx, _weights)
    store = ArtifactStore(root)
    if not store.exists("text_models", TRAINED):
        assert outcome.killed
        return
    meta = registry.read_meta(store, TRAINED)
    status = registry.reported_status(store, meta)
    assert status in ("completed", "interrupted"), status
    listed = json.loads(_cli(root, "lm", "list", "--json"))
    assert [m["status"] for m in listed["models"] if m["model_id"] == TRAINED] == [status]
    if status != "completed":
        assert outcome.killed
        if "tokens" not in meta:  # killed while tokenising: nothing to resume (it says so)
            res = CliRunner().invoke(
                app, ["lm", "train", "--resume", TRAINED, "--artifacts-root", str(root)]
            )
            assert res.exit_code != 0 and "train a new one" in " ".join(res.output.split())
            return
        res = CliRunner().invoke(
            app, ["lm", "train", "--resume", TRAINED, "--threads", "1", "-q", "--artifacts-root",
                  str(root)],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
    assert registry.read_meta(store, TRAINED)["status"] == "completed"
    assert _weights(root) == _TRAIN_AFTER[key], "resumed weights differ from the uninterrupted run"
    _no_lock_left(root, "text_models", TRAINED)


def train_case() -> CrashCase:
    return CrashCase("tinylm_train", prepare_train, train_argv, check_train, timeout=300)


# ---------------------------------------------------------------------------- sleep

CANDIDATE = "sleep-crash"


def prepare_sleep(root: Path) -> dict[str, Any]:
    from ttt.text.chat import create_session, send_message

    _tiny_model(root)
    store = ArtifactStore(root)
    create_session(store, model_id=MODEL, session_id=SID, cfg={"chunk_tokens": 16})
    for text in (FIRST_TURN, TURN):
        send_message(store, SID, text, max_tokens=4, temperature=0.0)
    return {}


def sleep_argv(ctx: dict[str, Any]) -> list[str]:
    return [
        "sleep", "-m", MODEL, "--sessions", SID, "--steps", "6", "--batch-size", "4",
        "--audit-set", "semantic=false", "--id", CANDIDATE,
    ]  # fmt: skip


def check_sleep(root: Path, ctx: dict[str, Any], outcome: Outcome) -> None:
    from ttt.models import registry

    store = ArtifactStore(root)
    listed = json.loads(_cli(root, "lm", "list", "--json"))
    ids = {m["model_id"]: m for m in listed["models"]}
    assert listed["default"] == MODEL, "a sleep candidate must never become the default"
    if CANDIDATE in ids:
        assert ids[CANDIDATE]["status"] == "sleep_candidate", ids[CANDIDATE]["status"]
        assert not ids[CANDIDATE]["promoted"]
        registry.load_model(store, CANDIDATE)  # whole: its weights load and match
        return
    assert outcome.killed
    assert not store.item_dir("text_models", CANDIDATE).exists(), "a half-made candidate"
    _no_lock_left(root, "text_models", CANDIDATE)
    res = CliRunner().invoke(app, [*sleep_argv(ctx), "--artifacts-root", str(root)])
    assert res.exit_code == 0, res.output  # the same id works again
    assert registry.read_meta(store, CANDIDATE)["status"] == "sleep_candidate"


def sleep_case() -> CrashCase:
    return CrashCase("sleep", prepare_sleep, sleep_argv, check_sleep, timeout=300)
