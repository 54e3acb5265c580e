"""The work of each job kind (runs inside a job's worker process, ``ttt.jobs``) and the
spool that carries input too private for job.json to it.

Each kind is ``fn(store, params, progress, cancel) -> result``: ``progress(done, total)``
reports, ``cancel()`` says whether to stop. ``JOB_KINDS`` names them for the manager.

Spooled input (the text of a Sentry run that must not be stored unless asked) is written to
``<kind>/.spool/<item_id>.txt`` by ``spool_text``, named in the job's params as
``spool: [kind, item_id]``, read and deleted by the work (``take_spooled_text``), and
deleted in any case when the job ends (``ttt.jobs``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ttt.store import (
    ArtifactStore,
    NotFoundError,
    PathEscapeError,
    atomic_write_text,
    validate_id,
)

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]
JobFn = Callable[[ArtifactStore, dict[str, Any], Progress, Cancel], dict[str, Any]]


# -- spooled input ---------------------------------------------------------------------------

SPOOL_DIR = ".spool"


def spool_path(store: ArtifactStore, kind: str, item_id: str) -> Path:
    """Where the spooled input of item ``item_id`` of ``kind`` lives (never listed as an item:
    the folder name is not a valid id)."""
    store.kind_dir(kind)  # an unknown kind is an error
    return store.resolve(kind, SPOOL_DIR, f"{validate_id(item_id, what='item id')}.txt")


def spool_text(store: ArtifactStore, kind: str, item_id: str, text: str) -> list[str]:
    """Write ``text`` for a job that is about to be submitted; returns its ``spool`` param."""
    path = spool_path(store, kind, item_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    return [kind, item_id]


def take_spooled_text(store: ArtifactStore, spool: Any) -> str:
    """Read and delete the spooled input named by a job's ``spool`` param."""
    if not (isinstance(spool, list | tuple) and len(spool) == 2):
        raise ValueError(f"spool must be [kind, item_id], got {spool!r}")
    path = spool_path(store, str(spool[0]), str(spool[1]))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise NotFoundError(f"{path}: the job's spooled input is gone") from e
    path.unlink(missing_ok=True)
    return text


# -- the work each kind does (runs inside the worker process) --------------------------------


def _pretrain_base(
    store: ArtifactStore, p: dict[str, Any], progress: Progress, cancel: Cancel
) -> dict[str, Any]:
    from ttt.nano.base import pretrain_base

    return {"base_id": pretrain_base(store, **p, progress=progress, cancel=cancel)}


def _create_session(
    store: ArtifactStore, p: dict[str, Any], progress: Progress, cancel: Cancel
) -> dict[str, Any]:
    from ttt.nano.session import create_session

    progress(0, 1)
    sid = create_session(store, **p)
    progress(1, 1)
    return {"session_id": sid}


def _run_session(
    store: ArtifactStore, p: dict[str, Any], progress: Progress, cancel: Cancel
) -> dict[str, Any]:
    from ttt.nano.session import run_session

    p = dict(p)
    sid = p.pop("session_id")
    run_id = run_session(store, sid, **p, progress=progress, cancel=cancel)
    return {"session_id": sid, "run_id": run_id}


def _fork_session(
    store: ArtifactStore, p: dict[str, Any], progress: Progress, cancel: Cancel
) -> dict[str, Any]:
    from ttt.nano.session import fork_session

    p = dict(p)
    sid = p.pop("session_id")
    progress(0, 1)
    new_sid = fork_session(store, sid, **p)
    progress(1, 1)
    return {"session_id": new_sid, "parent_session_id": sid}


def _run_sweep(
    store: ArtifactStore, p: dict[str, Any], progress: Progress, cancel: Cancel
) -> dict[str, Any]:
    from ttt.nano.sweep import run_sweep

    return {"sweep_id": run_sweep(store, **p, progress=progress, cancel=cancel)}


def _train_lm(
    store: ArtifactStore, p: dict[str, Any], progress: Progress, cancel: Cancel
) -> dict[str, Any]:
    """Train a TinyLm (``ttt.models.train.train_model``). ``corpus``: absolute paths that the
    caller (the API) has already checked to lie inside the artifact root or a configured
    corpus folder; empty = the built-in corpus. A cancel stops at the next step with a
    checkpoint (model status ``cancelled``, resumable)."""
    import torch

    from ttt.models.train import corpus_from_args, train_model

    _check_not_private(store, p.get("corpus") or [])
    torch.set_num_threads(max(1, int(p.get("threads") or 1)))
    overrides: dict[str, Any] = {}
    for key in ("steps", "lr", "seed"):
        if p.get(key) is not None:
            overrides[key] = p[key]
    result = train_model(
        store,
        corpus=corpus_from_args(p.get("corpus") or None),
        preset=str(p.get("preset", "tiny")),
        overrides=overrides,
        model_id=p.get("model_id"),
        promote=bool(p.get("promote", False)),
        progress=lambda step, total, _info: progress(step, total),
        cancel=cancel,
    )
    return {"model_id": result.model_id, "status": result.status, "step": result.step}


def _check_not_private(store: ArtifactStore, paths: list[str]) -> None:
    """Again in the worker (a symlink may have changed since the API checked): no corpus
    file resolves under the store's private folders (``.spool``, ``.locks``, temp files)."""
    from ttt.models.corpus import find_files

    for raw in paths:
        path = Path(raw)
        for f in [path, *(find_files(path) if path.is_dir() else [])]:
            hidden = store.private_part(f.resolve())
            if hidden:
                raise PathEscapeError(
                    f"corpus file {str(f)!r} is under {hidden!r}, a hidden store folder"
                )


def _sentry_run(
    store: ArtifactStore, p: dict[str, Any], progress: Progress, cancel: Cancel
) -> dict[str, Any]:
    """Stream a text through a text model under the safety layer
    (``ttt.text.sentry.run_sentry``). The text is always spooled (``spool``), never in
    job.json; ``config`` is a SentryConfig dict."""
    text = take_spooled_text(store, p.get("spool"))
    import torch

    from ttt.text.sentry import SentryConfig, run_sentry

    torch.set_num_threads(max(1, int(p.get("threads") or 1)))
    result = run_sentry(
        store,
        text=text,
        cfg=SentryConfig.from_dict(p.get("config") or {}),
        model_id=p.get("model_id"),
        run_id=p.get("run_id"),
        keep_text=bool(p.get("keep_text", False)),
        source=str(p.get("source", "api")),
        progress=progress,
        cancel=cancel,
    )
    s = result.summary
    return {
        "run_id": result.run_id,
        "status": s.get("status"),
        "n_chunks": s.get("n_chunks"),
        "committed": s.get("committed"),
        "blocked": s.get("blocked"),
        "rolled_back": s.get("rolled_back"),
    }


def _redteam(
    store: ArtifactStore, p: dict[str, Any], progress: Progress, cancel: Cancel
) -> dict[str, Any]:
    """Search for payloads that get past the defences (``ttt.redteam.runs.redteam_job``:
    params = a RedTeamConfig dict plus ``model_id``, ``run_id``, ``threads``)."""
    from ttt.redteam.runs import redteam_job

    return redteam_job(store, p, progress, cancel)


def _sleep(
    store: ArtifactStore, p: dict[str, Any], progress: Progress, cancel: Cancel
) -> dict[str, Any]:
    """Consolidate chat sessions into a sleep candidate (``ttt.text.sleep.sleep_job``:
    params = SleepConfig fields plus ``model_id`` and ``threads``). A cancel stops at the
    next training step and writes no candidate."""
    from ttt.text.sleep import sleep_job

    return sleep_job(store, p, progress, cancel)


def _selftest(
    store: ArtifactStore, p: dict[str, Any], progress: Progress, cancel: Cancel
) -> dict[str, Any]:
    """Counts to ``steps`` (sleeping ``sleep_s`` each); checks the job machinery itself."""
    steps, sleep_s = int(p.get("steps", 10)), float(p.get("sleep_s", 0.01))
    for i in range(steps):
        if cancel() and not p.get("ignore_cancel", False):
            return {"done": i, "cancelled": True}
        if p.get("fail_at") == i:
            raise ValueError(f"selftest failing at step {i} as asked")
        if p.get("exit_at") == i:
            os._exit(3)  # a worker that dies without reporting
        time.sleep(sleep_s)
        progress(i + 1, steps)
    return {"done": steps}


JOB_KINDS: dict[str, JobFn] = {
    "pretrain_base": _pretrain_base,
    "create_session": _create_session,
    "run_session": _run_session,
    "fork_session": _fork_session,
    "run_sweep": _run_sweep,
    "train_lm": _train_lm,
    "sentry_run": _sentry_run,
    "redteam": _redteam,
    "sleep": _sleep,
    "selftest": _selftest,
}
