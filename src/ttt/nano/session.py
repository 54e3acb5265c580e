"""Branchable Nano sessions: create, run (resume), fork, list, show.

A session owns fast weights (W_u, B, W_o), a Muon optimiser state, the engine's state (lr,
committed-gradient history), the environment's exact state (position, velocity, RNG) and the
hidden states of the three models it compares. ``run_session`` continues exactly where the
last run stopped; ``fork_session`` copies a session at its latest state or at any committed
update k (weights from the content-addressed history; the optimiser momentum optionally).
Files: see docs/nano_files.md.

    ttt nano session new --env-mode nonlinear --mu 0.12
    ttt nano session run <id> --steps 600
    ttt nano session fork <id> --from-update 5 --no-momentum
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ttt import __version__
from ttt.nano.base import latest_base_id, load_base, now_iso
from ttt.nano.config import PlasticityConfig, apply_overrides
from ttt.nano.env import EnvConfig
from ttt.nano.model import plastic_names
from ttt.nano.runner import ChunkOutput, NanoRunner, RunnerState, canary_in_force
from ttt.store import (
    ArtifactStore,
    NotFoundError,
    StoreError,
    append_jsonl,
    atomic_write_text,
    new_id,
    read_json,
    read_jsonl,
    read_tensors,
    validate_id,
    write_csv,
    write_json,
    write_json_list,
    write_tensors,
)

KIND = "sessions"
EVAL_SEED_LIMIT = 10_000_000  # evaluation seeds are < this; pretraining uses 10M + k
PER_STEP_COLUMNS = (
    "t",
    "baseline_mse",
    "adaptive_mse",
    "frozen_mse",
    "oracle_mse",
    "did_update",
    "update_ok",
    "status",
    "mu",
)
TRAJECTORY_JSON_MAX = 20_000  # steps kept at full resolution in trajectory.json


def _session_dir(store: ArtifactStore, session_id: str, *, must_exist: bool = True) -> Path:
    sid = validate_id(session_id, what="session id")
    d = store.item_dir(KIND, sid)
    if must_exist and not (d / "meta.json").exists():
        raise NotFoundError(f"session {sid!r} not found under {store.kind_dir(KIND)}")
    return d


def read_meta(store: ArtifactStore, session_id: str) -> dict[str, Any]:
    return read_json(_session_dir(store, session_id) / "meta.json")


def read_metrics(store: ArtifactStore, session_id: str) -> dict[str, Any]:
    p = _session_dir(store, session_id) / "metrics.json"
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


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_runs(store: ArtifactStore, session_id: str) -> list[dict[str, Any]]:
    """Runs of a session; a run whose writer died without finishing is ``interrupted``."""
    d = _session_dir(store, session_id) / "runs"
    out = []
    if d.is_dir():
        for child in sorted(d.iterdir()):
            p = child / "run.json"
            if child.is_dir() and not child.name.startswith(".") and p.exists():
                run = read_json(p)
                if run.get("status") == "running" and not _pid_alive(run.get("pid")):
                    run["status"] = "interrupted"
                out.append(run)
    out.sort(key=lambda r: (r.get("t_start", 0), r.get("started_at", "")))
    return out


def weight_history(store: ArtifactStore, session_id: str) -> list[dict[str, Any]]:
    """One record per committed update k (k = 0 is the session's start)."""
    return read_jsonl(_session_dir(store, session_id) / "weights" / "history.jsonl")


def weights_at(store: ArtifactStore, session_id: str, k: int | None = None) -> dict[str, Tensor]:
    """Plastic weights after committed update k (latest when k is None)."""
    hist = weight_history(store, session_id)
    if not hist:
        raise NotFoundError(f"session {session_id!r} has no weight history")
    if k is None:
        rec = hist[-1]
    else:
        matches = [r for r in hist if r["k"] == k]
        if not matches:
            raise NotFoundError(
                f"session {session_id!r} has no committed update k={k} (0..{hist[-1]['k']})"
            )
        rec = matches[0]
    return _weights_from_record(store, rec)


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


def _write_history(
    store: ArtifactStore, d: Path, records: list[tuple[dict[str, Any], dict[str, Tensor]]]
) -> None:
    """Append committed weights as one content-addressed segment (stacked tensors)."""
    if not records:
        return
    stacked = {n: torch.stack([w[n] for _, w in records]) for n in plastic_names}
    seg = store.put_tensor_dict(stacked)
    (d / "weights").mkdir(exist_ok=True)
    for row, (info, _) in enumerate(records):
        append_jsonl(d / "weights" / "history.jsonl", {**info, "segment": seg, "row": row})


def _truncate_history(d: Path, commits: int) -> None:
    """Drop history lines past the resume point (a writer killed after writing history but
    before its state checkpoint); rewrites the file atomically only when needed."""
    p = d / "weights" / "history.jsonl"
    recs = read_jsonl(p)
    keep = [r for r in recs if r["k"] <= commits]
    if len(keep) != len(recs) or p.read_bytes()[-1:] not in (b"\n", b""):
        atomic_write_text(p, "".join(json.dumps(r) + "\n" for r in keep))


def _env_cfg(mu: float, env_mode: str, overrides: dict[str, Any] | None) -> EnvConfig:
    d = apply_overrides({"mode": env_mode, "mu": mu}, overrides)
    return EnvConfig.from_dict(d)


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
    if not 0 <= seed < EVAL_SEED_LIMIT:
        raise ValueError(f"seed must be in [0, {EVAL_SEED_LIMIT}) (pretraining uses the rest)")
    if mu is None:
        g = torch.Generator().manual_seed(seed)
        mu = float(0.02 + 0.23 * torch.rand((), generator=g, dtype=torch.float64))
    env_cfg = _env_cfg(mu, env_mode, env_overrides)
    pcfg = PlasticityConfig.from_dict(
        apply_overrides(PlasticityConfig().to_dict(), plasticity_overrides)
    )
    sid = validate_id(session_id, what="session id") if session_id else new_id("nano")
    with store.lock(KIND, sid):
        d = store.create_item(KIND, sid)
        runner = NanoRunner.fresh(mcfg, params, env_cfg, pcfg, seed=seed)
        _save_state(store, d, runner.state())
        _save_state(store, d, runner.state(), prefix="initial_")
        _write_history(
            store,
            d,
            [({"k": 0, "t": 0, "attempt_index": None, "run_id": None}, runner.state().plastic)],
        )
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
        write_json(d / "meta.json", meta)
        write_json(d / "metrics.json", _empty_metrics())
    return sid


def _empty_metrics() -> dict[str, Any]:
    return {
        "baseline_mse_mean": None,
        "adaptive_mse_mean": None,
        "baseline_mse_last100_mean": None,
        "adaptive_mse_last100_mean": None,
        "frozen_mse_last100_mean": None,
        "oracle_mse_last100_mean": None,
        "improvement_last100": None,
        "updates_attempted": 0,
        "updates_committed": 0,
        "updates_rolled_back": 0,
        "rollbacks_by_status": {},
        "steps_total": 0,
        "runs": 0,
        "last_run_id": None,
    }


def _save_state(store: ArtifactStore, d: Path, st: RunnerState, prefix: str = "") -> None:
    """Write a resume point. Tensors first, ``state.json`` last: it names the step, and a
    reader that finds an older state.json next to newer tensors cannot happen because every
    file is replaced atomically and state.json is written after them."""
    write_tensors(d / f"{prefix}plastic_state.safetensors", st.plastic)
    write_tensors(d / f"{prefix}optim_state.safetensors", {**st.optim, **st.engine})
    write_tensors(d / f"{prefix}state.safetensors", st.tensors)
    write_json(d / f"{prefix}state.json", {"t": st.t, "commits": st.commits, **st.info})


def _load_state(store: ArtifactStore, d: Path, prefix: str = "") -> RunnerState:
    info = read_json(d / f"{prefix}state.json")
    plastic = read_tensors(d / f"{prefix}plastic_state.safetensors")
    opt_all = read_tensors(d / f"{prefix}optim_state.safetensors", check_finite=False)
    tensors = read_tensors(d / f"{prefix}state.safetensors", check_finite=False)
    engine = {k: v for k, v in opt_all.items() if k.startswith("engine.")}
    optim = {k: v for k, v in opt_all.items() if not k.startswith("engine.")}
    t = int(info.pop("t"))
    commits = int(info.pop("commits"))
    info.pop("schema_version", None)
    return RunnerState(
        t=t,
        commits=commits,
        plastic=plastic,
        optim=optim,
        engine=engine,
        tensors=tensors,
        info=info,
    )


def _runner_for(
    store: ArtifactStore, d: Path, meta: dict[str, Any], overrides: dict[str, Any] | None
) -> tuple[NanoRunner, dict[str, Any], dict[str, Any]]:
    params, mcfg, _ = load_base(store, meta["base_id"])
    ov = dict(overrides or {})
    env_ov = ov.pop("env", None) or {}
    plast_ov = ov.pop("plasticity", None) or {}
    if ov:
        raise ValueError(
            f"unknown override group(s): {', '.join(sorted(ov))} (use 'env' or 'plasticity')"
        )
    env_cfg = EnvConfig.from_dict(apply_overrides(meta["env_cfg"], env_ov))
    pcfg = PlasticityConfig.from_dict(apply_overrides(meta["plasticity_cfg"], plast_ov))
    st = _load_state(store, d)
    # The frozen predictor keeps the session's own starting weights in every run, so a fork
    # is measured against where it started, not against the pretrained base.
    own_start = read_tensors(d / "initial_plastic_state.safetensors")
    runner = NanoRunner.resume(mcfg, params, env_cfg, pcfg, st, frozen_plastic=own_start)
    return runner, env_cfg.to_dict(), pcfg.to_dict()


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

    The session is locked for the whole run. The resume point is checkpointed atomically
    every ``checkpoint_seconds`` (and at the end), so a killed run leaves a session that
    loads at its last checkpoint; the run itself is then marked ``interrupted`` by readers.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    d = _session_dir(store, session_id)
    rid = validate_id(run_id, what="run id") if run_id else new_id("run")
    with store.lock(KIND, validate_id(session_id)):
        meta = read_json(d / "meta.json")
        runner, env_eff, plast_eff = _runner_for(store, d, meta, overrides)
        _truncate_history(d, runner.commits)
        rd = d / "runs" / rid
        if rd.exists():
            raise StoreError(f"run {rid!r} already exists in session {session_id!r}")
        rd.mkdir(parents=True)
        t_start = runner.t
        run_info: dict[str, Any] = {
            "run_id": rid,
            "session_id": meta["session_id"],
            "status": "running",
            "steps": steps,
            "t_start": t_start,
            "t_end": t_start,
            "frozen_weights": "session_start",
            "env_cfg": env_eff,
            "plasticity_cfg": plast_eff,
            "overrides": overrides or {},
            "seed": meta["seed"],
            "base_id": meta["base_id"],
            "started_at": now_iso(),
            "finished_at": None,
            "pid": os.getpid(),
            "error": None,
            "torch_version": torch.__version__,
            "package_version": __version__,
        }
        write_json(rd / "run.json", run_info)
        # The run's start state: with it (and run.json) the run can be replayed exactly,
        # which is how a fork from an earlier committed update gets its full resume point.
        _save_state(store, rd, runner.state(), prefix="start_")
        out = _RunWriter(rd)
        pending_hist: list[tuple[dict[str, Any], dict[str, Tensor]]] = []
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
                for ev in chunk.events:
                    ev["run_id"] = rid
                    if ev["status"] == "commit":
                        pending_hist.append(
                            (
                                {
                                    "k": ev["commit_index"],
                                    "t": ev["t"],
                                    "attempt_index": ev["index"],
                                    "run_id": rid,
                                },
                                chunk.committed_weights,
                            )
                        )
                out.add(chunk)
                done += n
                if progress is not None:
                    progress(done, steps)
                if time.monotonic() - last_ckpt >= checkpoint_seconds:
                    _write_history(store, d, pending_hist)
                    pending_hist = []
                    _save_state(store, d, runner.state())
                    last_ckpt = time.monotonic()
        except BaseException as exc:
            status = "failed" if not isinstance(exc, KeyboardInterrupt) else "cancelled"
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            _write_history(store, d, pending_hist)
            _save_state(store, d, runner.state())
            summary = out.finish(runner)
            run_info.update(
                status=status,
                t_end=runner.t,
                steps_done=runner.t - t_start,
                finished_at=now_iso(),
                error=error,
            )
            write_json(rd / "summary.json", summary)
            write_json(rd / "run.json", run_info)
            _update_session_metrics(store, d, rid, summary)
    return rid


class _RunWriter:
    """Accumulates a run's per-step rows, events and trajectory; streams live.jsonl."""

    def __init__(self, rd: Path) -> None:
        self.rd = rd
        self.rows: list[list[Any]] = []
        self.events: list[dict[str, Any]] = []
        self.traj: dict[str, list[Tensor]] = {
            k: [] for k in ("obs", "actions", "mu", "pred_baseline", "pred_adaptive")
        }
        self.t0: int | None = None
        self._live = open(rd / "live.jsonl", "a", encoding="utf-8")  # noqa: SIM115

    def add(self, chunk: ChunkOutput) -> None:
        if self.t0 is None:
            self.t0 = chunk.t[0]
        self.rows.extend(chunk.rows)
        self.events.extend(chunk.events)
        for k in self.traj:
            self.traj[k].append(getattr(chunk, k))
        self._live.write(
            json.dumps(
                {"t_end": chunk.t[-1], "rows": chunk.rows, "events": chunk.events}, allow_nan=False
            )
            + "\n"
        )
        self._live.flush()

    def finish(self, runner: NanoRunner) -> dict[str, Any]:
        self._live.close()
        columns = PER_STEP_COLUMNS + runner.per_step_extra_columns
        write_csv(self.rd / "per_step.csv", columns, self.rows)
        write_json_list(self.rd / "update_events.json", self.events)
        if self.rows:
            traj = {k: torch.cat(v) for k, v in self.traj.items()}
            write_tensors(self.rd / "trajectory.safetensors", traj)
            n = traj["obs"].shape[0]
            stride = max(1, -(-n // TRAJECTORY_JSON_MAX))
            write_json(
                self.rd / "trajectory.json",
                {
                    "t0": self.t0,
                    "stride": stride,
                    "n": n,
                    **{k: _round(v[::stride].tolist()) for k, v in traj.items()},
                },
            )
        return summarize(self.rows, self.events)


def _round(x: Any) -> Any:
    if isinstance(x, float):
        return round(x, 7)
    if isinstance(x, list):
        return [_round(v) for v in x]
    return x


def _mean(xs: list[float]) -> float | None:
    return float(sum(xs) / len(xs)) if xs else None


def summarize(rows: list[list[Any]], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Metrics of a run from its per-step rows and events (the seed metrics.json keys)."""
    col = {c: i for i, c in enumerate(PER_STEP_COLUMNS)}

    def series(name: str) -> list[float]:
        return [float(r[col[name]]) for r in rows]

    b, a = series("baseline_mse"), series("adaptive_mse")
    f, o = series("frozen_mse"), series("oracle_mse")
    by_status: dict[str, int] = {}
    for e in events:
        by_status[e["status"]] = by_status.get(e["status"], 0) + 1
    committed = by_status.get("commit", 0)
    b100, a100, f100 = _mean(b[-100:]), _mean(a[-100:]), _mean(f[-100:])
    # Against the session's own starting weights (frozen_mse): for a new session they are
    # the base (frozen == baseline), for a fork the fork point, not the parent's base.
    ref = f100 if f100 is not None else b100
    improvement = (1.0 - a100 / ref) if (a100 is not None and ref) else None
    extra: dict[str, Any] = {}
    canary_events = [e for e in events if e.get("canary_before") is not None]
    if canary_events:
        last = canary_events[-1]
        extra["canary_loss_first"] = canary_events[0]["canary_before"]
        extra["canary_loss_last"] = canary_in_force(last)
    projected = [e["projection"] for e in events if e.get("projection")]
    if projected:
        removed = [
            p["fraction_removed"] for p in projected if p.get("fraction_removed") is not None
        ]
        extra["spfw_projected"] = sum(1 for p in projected if p.get("violations_before", 0) > 0)
        extra["spfw_fraction_removed_mean"] = _mean(removed)
    return {
        "baseline_mse_mean": _mean(b),
        "adaptive_mse_mean": _mean(a),
        "baseline_mse_last100_mean": b100,
        "adaptive_mse_last100_mean": a100,
        "frozen_mse_last100_mean": f100,
        "oracle_mse_last100_mean": _mean(o[-100:]),
        "improvement_last100": improvement,
        "updates_attempted": len(events),
        "updates_committed": committed,
        "updates_rolled_back": len(events) - committed,
        "rollbacks_by_status": {k: v for k, v in by_status.items() if k != "commit"},
        "steps": len(rows),
        **extra,
    }


def _update_session_metrics(
    store: ArtifactStore, d: Path, run_id: str, summary: dict[str, Any]
) -> None:
    old = read_json(d / "metrics.json") if (d / "metrics.json").exists() else _empty_metrics()
    new = {k: v for k, v in summary.items() if k != "steps"}
    for k in ("updates_attempted", "updates_committed", "updates_rolled_back"):
        new[k] = int(old.get(k, 0)) + int(summary[k])
    merged: dict[str, int] = dict(old.get("rollbacks_by_status", {}))
    for k, v in summary["rollbacks_by_status"].items():
        merged[k] = merged.get(k, 0) + v
    new["rollbacks_by_status"] = merged
    new["steps_total"] = int(old.get("steps_total", 0)) + int(summary["steps"])
    new["runs"] = int(old.get("runs", 0)) + 1
    new["last_run_id"] = run_id
    new["last_run"] = summary
    write_json(d / "metrics.json", new)


def fork_session(
    store: ArtifactStore,
    session_id: str,
    *,
    from_update: int | None = None,
    with_momentum: bool = True,
    new_session_id: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> str:
    """Branch a session at its latest state or at committed update k.

    From the latest state the fork continues exactly like the parent would (same env state,
    hidden states, optimiser, engine state). From an earlier update k the fork takes the
    weights of update k, and the rest of the resume point (env, hidden states, momentum,
    lr) from the parent's state at that update's chunk if it was checkpointed there, or from
    the parent's latest state otherwise (recorded in meta.parent.resume_from).
    """
    src = _session_dir(store, session_id)
    sid = validate_id(new_session_id, what="session id") if new_session_id else new_id("nano")
    with store.lock(KIND, validate_id(session_id)):
        meta = read_json(src / "meta.json")
        hist = weight_history(store, session_id)
        st = _load_state(store, src)
        if from_update is None:
            k = hist[-1]["k"]
            t = st.t
            kept = hist
        else:
            matches = [r for r in hist if r["k"] == from_update]
            if not matches:
                raise ValueError(
                    f"from_update={from_update}: session {session_id!r} has committed updates "
                    f"0..{hist[-1]['k']}"
                )
            k = from_update
            t = int(matches[0]["t"])
            kept = [r for r in hist if r["k"] <= k]
            st = _rewind_state(store, src, st, matches[0])
        # The fork's own start: its frozen predictor begins with the fork's hidden state.
        st.tensors["h.frozen"] = st.tensors["h.adaptive"].clone()
        if not with_momentum:
            st.optim = {}
            st.engine = {kk: v for kk, v in st.engine.items() if not kk.startswith("engine.opt")}
    plast_ov = (overrides or {}).get("plasticity") or {}
    env_ov = (overrides or {}).get("env") or {}
    with store.lock(KIND, sid):
        d = store.create_item(KIND, sid)
        _save_state(store, d, st)
        _save_state(store, d, st, prefix="initial_")
        (d / "weights").mkdir()
        for r in kept:
            append_jsonl(d / "weights" / "history.jsonl", {**r, "inherited_from": session_id})
        child = dict(meta)
        child.update(
            session_id=sid,
            parent={
                "session_id": session_id,
                "update_index": k,
                "t": t,
                "with_momentum": with_momentum,
            },
            created_at=now_iso(),
            created_at_unix=int(time.time()),
        )
        if env_ov:
            child["env_cfg"] = EnvConfig.from_dict(
                apply_overrides(meta["env_cfg"], env_ov)
            ).to_dict()
            child["mu"] = child["env_cfg"]["mu"]
            child["env_mode"] = child["env_cfg"]["mode"]
        if plast_ov:
            child["plasticity_cfg"] = PlasticityConfig.from_dict(
                apply_overrides(meta["plasticity_cfg"], plast_ov)
            ).to_dict()
        write_json(d / "meta.json", child)
        m = _empty_metrics()
        write_json(d / "metrics.json", m)
    return sid


def _rewind_state(
    store: ArtifactStore, d: Path, latest: RunnerState, rec: dict[str, Any]
) -> RunnerState:
    """The exact resume point right after committed update ``rec``.

    Runs are deterministic given their start state and effective config, so the state after
    update k is rebuilt by replaying the run that committed it from that run's recorded start
    state (nothing is written during the replay). k = 0 is the session's creation state.
    """
    owner = rec.get("inherited_from")
    if owner:
        od = _session_dir(store, owner)
        orec = next(r for r in weight_history(store, owner) if r["k"] == rec["k"])
        return _rewind_state(store, od, _load_state(store, od), orec)
    if rec["run_id"] is None:
        return _load_state(store, d, prefix="initial_")
    rd = d / "runs" / validate_id(rec["run_id"], what="run id")
    run = read_json(rd / "run.json")
    start = _load_state(store, rd, prefix="start_")
    meta = read_json(d / "meta.json")
    params, mcfg, _ = load_base(store, meta["base_id"])
    env_cfg = EnvConfig.from_dict(run["env_cfg"])
    pcfg = PlasticityConfig.from_dict(run["plasticity_cfg"])
    runner = NanoRunner.resume(mcfg, params, env_cfg, pcfg, start)
    while runner.commits < rec["k"]:
        if runner.t >= run["t_end"]:
            raise StoreError(f"{rd}: replay did not reach committed update k={rec['k']}")
        runner.run_chunk(min(pcfg.chunk, run["t_end"] - runner.t), record=False)
    if runner.commits != rec["k"] or runner.t != int(rec["t"]) + 1:
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
