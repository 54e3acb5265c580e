"""Branchable Nano sessions: create, run (resume), fork, list, show.

A session owns fast weights (W_u, B, W_o), a Muon optimiser state, the engine's state (lr,
committed-gradient history), the environment's exact state (position, velocity, RNG) and the
hidden states of the three models it compares. ``run_session`` continues exactly where the
last run stopped; ``fork_session`` copies a session at its latest state or at any committed
update k of any of its runs (finished, cancelled, failed or killed). Files and how they stay
consistent under a kill: ``ttt.nano.persist`` and docs/nano_files.md.

    ttt nano session new --env-mode nonlinear --mu 0.12
    ttt nano session run <id> --steps 600
    ttt nano session fork <id> --from-update 5 --no-momentum
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ttt import __version__
from ttt.nano.base import latest_base_id, load_base, now_iso
from ttt.nano.config import PlasticityConfig, apply_overrides
from ttt.nano.env import EnvConfig
from ttt.nano.journal import FolderJournal, recover
from ttt.nano.model import plastic_names
from ttt.nano.persist import (
    KIND,
    PER_STEP_COLUMNS,
    RunRecorder,
    apply_history,
    clear_writer,
    empty_metrics,
    finish_run,
    history_segment,
    load_state,
    metrics_with_run,
    new_temp_dir,
    publish_dir,
    read_history,
    recover_session,
    settle,
    stage_state,
    summarize,
    write_state,
    writer_marker,
)
from ttt.nano.runner import NanoRunner, RunnerState
from ttt.procs import pid_alive
from ttt.store import (
    AlreadyExistsError,
    ArtifactStore,
    NotFoundError,
    StoreError,
    append_jsonl,
    new_id,
    read_json,
    read_tensors,
    validate_id,
    write_json,
)

__all__ = [
    "KIND",
    "MAX_RUN_STEPS",
    "PER_STEP_COLUMNS",
    "create_session",
    "fork_session",
    "ghost_trajectory",
    "list_runs",
    "list_sessions",
    "read_json_run",
    "read_meta",
    "read_metrics",
    "rewind_state",
    "run_dir",
    "run_session",
    "session_summary",
    "summarize",
    "weight_history",
    "weights_at",
]

EVAL_SEED_LIMIT = 10_000_000  # evaluation seeds are < this; pretraining uses 10M + k
MAX_RUN_STEPS = 10_000_000  # one run; a session can run any number of runs


def check_steps(steps: Any, what: str = "steps") -> int:
    """``steps`` as an int in [1, MAX_RUN_STEPS]; ValueError naming ``what`` otherwise."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_RUN_STEPS:
        raise ValueError(f"{what} must be an integer in [1, {MAX_RUN_STEPS:_}], got {steps!r}")
    return steps


def _session_dir(store: ArtifactStore, session_id: str, *, must_exist: bool = True) -> Path:
    sid = validate_id(session_id, what="session id")
    d = store.item_dir(KIND, sid)
    if must_exist and not (d / "meta.json").exists():
        raise NotFoundError(f"session {sid!r} not found under {store.kind_dir(KIND)}")
    return d


def _settled_dir(store: ArtifactStore, session_id: str) -> Path:
    """The session's folder, after finishing the work of a writer that died (if any)."""
    d = _session_dir(store, session_id)
    settle(store, validate_id(session_id), d)
    return d


def read_meta(store: ArtifactStore, session_id: str) -> dict[str, Any]:
    return read_json(_session_dir(store, session_id) / "meta.json")


def read_metrics(store: ArtifactStore, session_id: str) -> dict[str, Any]:
    p = _settled_dir(store, session_id) / "metrics.json"
    return read_json(p) if p.exists() else {}


def list_sessions(store: ArtifactStore) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(summaries, errors): one summary per readable session; unreadable ones in errors."""
    items: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for sid in store.list_ids(KIND):
        try:
            items.append(session_summary(store, sid))
        except StoreError as exc:
            errors.append({"id": sid, "detail": str(exc)})
    items.sort(key=lambda s: (s.get("created_at_unix", 0), s["session_id"]))
    return items, errors


def session_summary(store: ArtifactStore, session_id: str) -> dict[str, Any]:
    meta = read_meta(store, session_id)
    metrics = read_metrics(store, session_id)
    return {
        "session_id": meta["session_id"],
        "parent": meta.get("parent"),
        "created_at": meta.get("created_at"),
        "created_at_unix": meta.get("created_at_unix", 0),
        "mu": meta.get("mu"),
        "env_mode": meta.get("env_mode"),
        "base_id": meta.get("base_id"),
        "model_signature": meta.get("model_signature"),
        "steps_total": metrics.get("steps_total", 0),
        "updates_attempted": metrics.get("updates_attempted", 0),
        "updates_committed": metrics.get("updates_committed", 0),
        "updates_rolled_back": metrics.get("updates_rolled_back", 0),
        "baseline_mse_last100_mean": metrics.get("baseline_mse_last100_mean"),
        "adaptive_mse_last100_mean": metrics.get("adaptive_mse_last100_mean"),
        "improvement_last100": metrics.get("improvement_last100"),
        "runs": metrics.get("runs", 0),
        "last_run_id": metrics.get("last_run_id"),
    }


def list_runs(store: ArtifactStore, session_id: str) -> list[dict[str, Any]]:
    """Runs of a session; a run whose writer died without finishing is ``interrupted``."""
    d = _settled_dir(store, session_id) / "runs"
    out = []
    if d.is_dir():
        for child in sorted(d.iterdir()):
            p = child / "run.json"
            if child.is_dir() and not child.name.startswith(".") and p.exists():
                run = read_json(p)
                if run.get("status") == "running" and not pid_alive(run.get("pid")):
                    run["status"] = "interrupted"
                out.append(run)
    out.sort(key=lambda r: (r.get("t_start", 0), r.get("started_at", "")))
    return out


def weight_history(store: ArtifactStore, session_id: str) -> list[dict[str, Any]]:
    """One record per committed update k = 0..commits (k = 0 is the session's start).

    The same list every consumer uses (listings, the time slider, ``weights_at``, ``fork``):
    an update is listed exactly when the session's resume point has committed it, and every
    listed update can be forked from."""
    return read_history(_settled_dir(store, session_id))


def weights_at(store: ArtifactStore, session_id: str, k: int | None = None) -> dict[str, Tensor]:
    """Plastic weights after committed update k (latest when k is None)."""
    hist = weight_history(store, session_id)
    if not hist:
        raise NotFoundError(f"session {session_id!r} has no weight history")
    rec = hist[-1] if k is None else _record(hist, k, session_id)
    return _weights_from_record(store, rec)


def _record(hist: list[dict[str, Any]], k: int, session_id: str) -> dict[str, Any]:
    matches = [r for r in hist if r["k"] == k]
    if not matches:
        raise NotFoundError(
            f"session {session_id!r} has no committed update k={k} (0..{hist[-1]['k']})"
        )
    return matches[0]


_SEGMENT_CACHE: dict[tuple[str, ...], dict[str, Tensor]] = {}


def _weights_from_record(store: ArtifactStore, rec: dict[str, Any]) -> dict[str, Tensor]:
    seg = rec["segment"]
    key = (str(store.root), *(seg[n] for n in sorted(seg)))
    if key not in _SEGMENT_CACHE:
        if len(_SEGMENT_CACHE) > 64:
            _SEGMENT_CACHE.clear()
        _SEGMENT_CACHE[key] = store.get_tensor_dict(seg)
    tensors = _SEGMENT_CACHE[key]
    return {n: tensors[n][rec["row"]].clone() for n in plastic_names}


def _env_cfg(mu: float, env_mode: str, overrides: dict[str, Any] | None) -> EnvConfig:
    d = apply_overrides({"mode": env_mode, "mu": mu}, overrides)
    return EnvConfig.from_dict(d)


def _split_overrides(overrides: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(env overrides, plasticity overrides); ValueError for any other group."""
    if overrides is not None and not isinstance(overrides, dict):
        raise ValueError(f"overrides must be an object, got {type(overrides).__name__}")
    ov = dict(overrides or {})
    env_ov = ov.pop("env", None) or {}
    plast_ov = ov.pop("plasticity", None) or {}
    if ov:
        raise ValueError(
            f"unknown override group(s): {', '.join(sorted(ov))} (use 'env' or 'plasticity')"
        )
    for what, group in (("env", env_ov), ("plasticity", plast_ov)):
        if not isinstance(group, dict):
            raise ValueError(f"overrides.{what} must be an object, got {type(group).__name__}")
    return env_ov, plast_ov


def _new_session_files(
    store: ArtifactStore,
    sid: str,
    st: RunnerState,
    history: list[dict[str, Any]],
    meta: dict[str, Any],
) -> None:
    """Build a session in a temp folder and move it into place in one rename: a kill or an
    error at any point leaves nothing half-made (call with the new id's lock held)."""
    if (store.item_dir(KIND, sid) / "meta.json").exists():
        raise AlreadyExistsError(f"session {sid!r} already exists")
    tmp = new_temp_dir(store, KIND, sid)
    try:
        write_state(tmp, st)
        write_state(tmp, st, prefix="initial_")
        for rec in history:
            append_jsonl(tmp / "weights" / "history.jsonl", rec)
        write_json(tmp / "metrics.json", empty_metrics())
        write_json(tmp / "meta.json", meta)
        publish_dir(store, KIND, sid, tmp, label="session")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def create_session(
    store: ArtifactStore,
    *,
    base_id: str | None = None,
    mu: float | None = None,
    env_mode: str = "linear",
    seed: int | None = None,
    env_overrides: dict[str, Any] | None = None,
    plasticity_overrides: dict[str, Any] | None = None,
    session_id: str | None = None,
) -> str:
    """Create a session from a base (latest base when None). Returns its id."""
    bid = base_id or latest_base_id(store)
    if bid is None:
        raise NotFoundError("no Nano base in this artifact root: run `ttt nano pretrain` first")
    params, mcfg, bmeta = load_base(store, bid)
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little") % EVAL_SEED_LIMIT
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < EVAL_SEED_LIMIT:
        raise ValueError(
            f"seed must be an integer in [0, {EVAL_SEED_LIMIT}) (pretraining uses the rest), "
            f"got {seed!r}"
        )
    if mu is None:
        g = torch.Generator().manual_seed(seed)
        mu = float(0.02 + 0.23 * torch.rand((), generator=g, dtype=torch.float64))
    env_cfg = _env_cfg(mu, env_mode, env_overrides)
    pcfg = PlasticityConfig.from_dict(
        apply_overrides(PlasticityConfig().to_dict(), plasticity_overrides)
    )
    sid = validate_id(session_id, what="session id") if session_id else new_id("nano")
    with store.lock(KIND, sid):
        runner = NanoRunner.fresh(mcfg, params, env_cfg, pcfg, seed=seed)
        st = runner.state()
        k0 = {"k": 0, "t": 0, "attempt_index": None, "run_id": None}
        meta = {
            "session_id": sid,
            "parent": None,
            "created_at": now_iso(),
            "created_at_unix": int(time.time()),
            "mu": env_cfg.mu,
            "env_mode": env_cfg.mode,
            "env_cfg": env_cfg.to_dict(),
            "model_signature": bmeta["model_signature"],
            "base_id": bid,
            "base_ckpt_hash": bmeta["base_ckpt_hash"],
            "model_cfg": mcfg.to_dict(),
            "plasticity_cfg": pcfg.to_dict(),
            "seed": seed,
            "torch_version": torch.__version__,
            "package_version": __version__,
        }
        _new_session_files(store, sid, st, history_segment(store, [(k0, st.plastic)]), meta)
    return sid


def _runner_for(
    store: ArtifactStore, d: Path, meta: dict[str, Any], overrides: dict[str, Any] | None
) -> tuple[NanoRunner, dict[str, Any], dict[str, Any]]:
    params, mcfg, _ = load_base(store, meta["base_id"])
    env_ov, plast_ov = _split_overrides(overrides)
    env_cfg = EnvConfig.from_dict(apply_overrides(meta["env_cfg"], env_ov))
    pcfg = PlasticityConfig.from_dict(apply_overrides(meta["plasticity_cfg"], plast_ov))
    st = load_state(d)
    # The frozen predictor keeps the session's own starting weights in every run, so a fork
    # is measured against where it started, not against the pretrained base.
    own_start = read_tensors(d / "initial_plastic_state.safetensors")
    runner = NanoRunner.resume(mcfg, params, env_cfg, pcfg, st, frozen_plastic=own_start)
    return runner, env_cfg.to_dict(), pcfg.to_dict()


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back for a few bookkeeping lines (main thread, POSIX): a Ctrl-C
    lands before or after, never between a state and the rows that belong to it."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:
        yield
        return
    old = mask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, old)


def run_session(
    store: ArtifactStore,
    session_id: str,
    *,
    steps: int,
    overrides: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    run_id: str | None = None,
    checkpoint_seconds: float = 5.0,
) -> str:
    """Continue a session for ``steps`` steps as a new run. Returns the run id.

    The session is locked for the whole run. Every ``checkpoint_seconds`` (0: after every
    chunk) and at the end the run commits its progress in one transaction (resume point,
    metrics, weight history, the run's rows so far), so a kill at any instant loses at most
    the steps since the last checkpoint and the session opens at that checkpoint. A run that
    raises stops at its last completed chunk: the chunk that failed is not committed.
    ``cancel()`` is polled between chunks (status ``cancelled``).
    """
    check_steps(steps)
    if not (isinstance(checkpoint_seconds, int | float) and 0 <= checkpoint_seconds < math.inf):
        raise ValueError(f"checkpoint_seconds must be a number >= 0, got {checkpoint_seconds!r}")
    sid = validate_id(session_id, what="session id")
    d = _session_dir(store, sid)
    rid = validate_id(run_id, what="run id") if run_id else new_id("run")
    with store.lock(KIND, sid):
        recover_session(store, d)
        meta = read_json(d / "meta.json")
        runner, env_eff, plast_eff = _runner_for(store, d, meta, overrides)
        rd = d / "runs" / rid
        if rd.exists():
            raise StoreError(f"run {rid!r} already exists in session {session_id!r}")
        writer_marker(d, rid)
        rd.mkdir(parents=True)
        # The run's start state: with it (and run.json) the run can be replayed exactly,
        # which is how a fork from any of its committed updates gets its full resume point.
        write_state(rd, runner.state(), prefix="start_")
        t_start = runner.t
        run_info: dict[str, Any] = {
            "run_id": rid,
            "session_id": meta["session_id"],
            "status": "running",
            "steps": steps,
            "t_start": t_start,
            "t_end": t_start,
            "frozen_weights": "session_start",
            "steps_done": 0,
            "parts": 0,
            "per_step_columns": list(PER_STEP_COLUMNS + runner.per_step_extra_columns),
            "env_cfg": env_eff,
            "plasticity_cfg": plast_eff,
            "overrides": overrides or {},
            "seed": meta["seed"],
            "base_id": meta["base_id"],
            # microseconds: runs of one session sort by (t_start, started_at), and a run
            # stopped before its first step shares its t_start with the next one
            "started_at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "finished_at": None,
            "pid": os.getpid(),
            "error": None,
            "torch_version": torch.__version__,
            "package_version": __version__,
        }
        write_json(rd / "run.json", run_info)  # the run exists from here on
        old_metrics = read_json(d / "metrics.json") if (d / "metrics.json").exists() else {}
        rec = RunRecorder(rd)
        pending_hist: list[tuple[dict[str, Any], dict[str, Tensor]]] = []
        good = runner.state()  # the resume point after the last completed chunk

        def on_apply(extra: Any) -> None:
            apply_history(d, extra)

        def checkpoint(finishing: str | None = None, error: str | None = None) -> dict[str, Any]:
            with _signals_deferred():
                recover(d, on_apply)  # an apply cut short by a second Ctrl-C
                rec.flush_part()
                lines = history_segment(store, pending_hist)
                info = {
                    **run_info,
                    "t_end": good.t,
                    "steps_done": good.t - t_start,
                    "parts": rec.n_parts,
                    "live_bytes": rec.live_bytes(),
                }
                if finishing is not None:
                    info.update(finishing=finishing, error=error, finished_at=now_iso())
                j = FolderJournal(d)
                stage_state(j, good)
                j.stage_json(
                    "metrics.json", metrics_with_run(old_metrics, rid, rec.stats.summary())
                )
                j.stage_json(f"runs/{rid}/run.json", info)
                j.commit(extra={"history": lines, "commits": good.commits}, on_apply=on_apply)
                pending_hist.clear()
                return info

        last_ckpt = time.monotonic()
        status = "completed"
        error: str | None = None
        try:
            done = 0
            while done < steps:
                if cancel is not None and cancel():
                    status = "cancelled"
                    break
                n = min(runner.steps_to_boundary(), steps - done)
                chunk = runner.run_chunk(n)
                st = runner.state()
                with _signals_deferred():
                    for ev in chunk.events:
                        ev["run_id"] = rid
                        if ev["status"] == "commit":
                            info = {
                                "k": ev["commit_index"],
                                "t": ev["t"],
                                "attempt_index": ev["index"],
                                "run_id": rid,
                            }
                            pending_hist.append((info, chunk.committed_weights))
                    rec.add(chunk)
                    good = st
                    done += n
                if progress is not None:
                    progress(done, steps)
                if time.monotonic() - last_ckpt >= checkpoint_seconds:
                    checkpoint()
                    last_ckpt = time.monotonic()
        except BaseException as exc:
            status = "cancelled" if isinstance(exc, KeyboardInterrupt) else "failed"
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            info = checkpoint(finishing=status, error=error)
            rec.close()
            finish_run(rd, info, status)
            clear_writer(d)
    return rid


def fork_session(
    store: ArtifactStore,
    session_id: str,
    *,
    from_update: int | None = None,
    with_momentum: bool = True,
    new_session_id: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> str:
    """Branch a session at its latest state or at any committed update k.

    From the latest state the fork continues exactly like the parent would (same env state,
    hidden states, optimiser, engine state); ``parent.update_index`` is the number of
    updates that state has committed. From update k the fork gets the exact resume point
    right after update k, rebuilt by replaying the run that committed it (``rewind_state``).
    Nothing is written until everything is checked; the new session appears in one rename.
    """
    parent_id = validate_id(session_id, what="session id")
    src = _session_dir(store, parent_id)
    sid = validate_id(new_session_id, what="session id") if new_session_id else new_id("nano")
    if from_update is not None and (
        isinstance(from_update, bool) or not isinstance(from_update, int) or from_update < 0
    ):
        raise ValueError(f"from_update must be an integer >= 0, got {from_update!r}")
    if (store.item_dir(KIND, sid) / "meta.json").exists():
        raise AlreadyExistsError(f"session {sid!r} already exists")
    env_ov, plast_ov = _split_overrides(overrides)
    with store.lock(KIND, parent_id):
        recover_session(store, src)
        meta = read_json(src / "meta.json")
        child = dict(meta)
        if env_ov:
            env = EnvConfig.from_dict(apply_overrides(meta["env_cfg"], env_ov))
            child.update(env_cfg=env.to_dict(), mu=env.mu, env_mode=env.mode)
        if plast_ov:
            pcfg = PlasticityConfig.from_dict(apply_overrides(meta["plasticity_cfg"], plast_ov))
            child["plasticity_cfg"] = pcfg.to_dict()
        hist = read_history(src)
        st = load_state(src)
        if from_update is None:
            if not hist or hist[-1]["k"] != st.commits:
                raise StoreError(
                    f"session {parent_id!r}: weight history ends at "
                    f"k={hist[-1]['k'] if hist else None} but the state has {st.commits} commits"
                )
            k, t, kept = st.commits, st.t, hist
        else:
            if from_update > st.commits:
                raise ValueError(
                    f"from_update={from_update}: session {parent_id!r} has committed updates "
                    f"0..{st.commits}"
                )
            rec = _record(hist, from_update, parent_id)
            k, t = from_update, int(rec["t"])
            kept = [r for r in hist if r["k"] <= k]
            st = rewind_state(store, src, rec)
        # The fork's own start: its frozen predictor begins with the fork's hidden state.
        st.tensors["h.frozen"] = st.tensors["h.adaptive"].clone()
        if not with_momentum:
            st.optim = {}
    child.update(
        session_id=sid,
        parent={"session_id": parent_id, "update_index": k, "t": t, "with_momentum": with_momentum},
        created_at=now_iso(),
        created_at_unix=int(time.time()),
    )
    history = [{**r, "inherited_from": r.get("inherited_from") or parent_id} for r in kept]
    with store.lock(KIND, sid):
        _new_session_files(store, sid, st, history, child)
    return sid


def rewind_state(store: ArtifactStore, d: Path, rec: dict[str, Any]) -> RunnerState:
    """The exact resume point right after committed update ``rec`` (a history record).

    Runs are deterministic given their start state and effective config (both recorded when
    the run starts), so the state after update k is rebuilt by replaying the run that
    committed it from its start up to the step of update k (``rec["t"]``). This needs nothing
    the run wrote later, so it works for runs that finished, were cancelled, failed or were
    killed. k = 0 is the session's creation state; an inherited record is replayed in the
    session that made it. Nothing is written.
    """
    owner = rec.get("inherited_from")
    if owner:
        od = _session_dir(store, owner)
        orec = _record(read_history(od), int(rec["k"]), owner)
        return rewind_state(store, od, orec)
    if rec["run_id"] is None:
        return load_state(d, prefix="initial_")
    rd = d / "runs" / validate_id(rec["run_id"], what="run id")
    run = read_json(rd / "run.json")
    start = load_state(rd, prefix="start_")
    meta = read_json(d / "meta.json")
    params, mcfg, _ = load_base(store, meta["base_id"])
    env_cfg = EnvConfig.from_dict(run["env_cfg"])
    pcfg = PlasticityConfig.from_dict(run["plasticity_cfg"])
    own_start = read_tensors(d / "initial_plastic_state.safetensors")
    runner = NanoRunner.resume(mcfg, params, env_cfg, pcfg, start, frozen_plastic=own_start)
    target = int(rec["t"]) + 1
    while runner.t < target:
        runner.run_chunk(min(runner.steps_to_boundary(), target - runner.t), record=False)
    if runner.commits != rec["k"] or runner.t != target:
        raise StoreError(
            f"{rd}: replay reached k={runner.commits} at t={runner.t}, expected k={rec['k']} "
            f"after t={rec['t']} (was the code or base changed since the run?)"
        )
    return runner.state()


def run_dir(store: ArtifactStore, session_id: str, run_id: str) -> Path:
    d = _session_dir(store, session_id) / "runs" / validate_id(run_id, what="run id")
    if not (d / "run.json").exists():
        raise NotFoundError(f"run {run_id!r} not found in session {session_id!r}")
    return d


def read_json_run(store: ArtifactStore, session_id: str, run_id: str, name: str) -> dict[str, Any]:
    return read_json(run_dir(store, session_id, run_id) / name)


GHOST_MAX_STEPS = 100_000


def ghost_trajectory(
    store: ArtifactStore,
    session_id: str,
    run_id: str,
    *,
    mu: float,
    start: int = 0,
    end: int | None = None,
) -> dict[str, Any]:
    """The run's recorded actions replayed under another μ ("what if μ had been ...").

    Starts from the observed state at step ``start`` of the run and applies the same actions
    with the noise-free dynamics of the session's env mode. Returns ``{t, obs, mu}``.
    """
    from ttt.nano.env import dynamics

    if not 0.0 < mu < 1.0:
        raise ValueError(f"mu must be in (0, 1), got {mu!r}")
    rd = run_dir(store, session_id, run_id)
    run = read_json(rd / "run.json")
    tr = read_tensors(rd / "trajectory.safetensors", check_finite=False)
    obs, act = tr["obs"].double(), tr["actions"].double()
    n = obs.shape[0]
    stop = n if end is None else min(int(end), n)
    if not 0 <= start < stop:
        raise ValueError(f"start/end must satisfy 0 <= start < end <= {n}, got {start}, {end}")
    if stop - start > GHOST_MAX_STEPS:
        raise ValueError(f"at most {GHOST_MAX_STEPS} ghost steps per request")
    nonlinear = torch.tensor(run["env_cfg"]["mode"] == "nonlinear")
    mu_t = torch.tensor(float(mu), dtype=torch.float64)
    pos, vel = obs[start, :2], obs[start, 2:]
    out = [torch.cat([pos, vel])]
    for i in range(start, stop - 1):
        pos, vel = dynamics(pos, vel, act[i], mu_t, nonlinear)
        out.append(torch.cat([pos, vel]))
    t0 = int(run["t_start"])
    return {
        "t": list(range(t0 + start, t0 + stop)),
        "obs": torch.stack(out).tolist(),
        "mu": float(mu),
    }
