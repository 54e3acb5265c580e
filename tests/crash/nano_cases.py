"""Crash cases for the Nano world: a session run, a fork, a sweep (see ``harness.py``).

Invariants checked after every kill:

* the store opens; ``ttt nano session list/show`` work and report no unreadable session;
* the session agrees with its resume point: ``show``'s steps and commits, the runs' t ranges
  (contiguous, none left ``running``), each run's ``per_step.csv`` and events, the weight
  history (k = 0..commits, the last one equal to the current fast weights);
* nothing committed is lost (t and commits never go back) and nothing is torn: the resume
  point is bit-identical to an uninterrupted reference session at the same step;
* no journal, writer marker or lock is left that blocks later work: the next run starts at
  the last commit and ends bit-identical to the reference; a fork from a committed update
  equals the reference right after that update;
* a killed fork leaves either a complete session or nothing (and the retry works); a killed
  sweep reads ``interrupted`` (or ``completed`` with all its rows) and a new sweep works.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import torch
from harness import CrashCase, Outcome
from typer.testing import CliRunner

from ttt.cli.main import app
from ttt.nano import session as S
from ttt.nano.base import load_base, pretrain_base
from ttt.nano.config import PlasticityConfig
from ttt.nano.env import EnvConfig
from ttt.nano.runner import NanoRunner, RunnerState
from ttt.nano.sweep import read_sweep, run_sweep, sweep_rows
from ttt.store import ArtifactStore, NotFoundError, read_tensors

SID = "s"
# Small and fast, but every mechanism on: chunk 8, a short window, 2 optimiser steps.
PLASTICITY = {"chunk": 8, "buffer_chunks": 4, "steps_per_update": 2}


def _cli(root: Path, *args: str) -> Any:
    res = CliRunner().invoke(app, [*args, "--artifacts-root", str(root)])
    assert res.exit_code == 0, f"ttt {' '.join(args)} exited {res.exit_code}: {res.output}"
    return res.output


# ---------------------------------------------------------------------------- reference


class Reference:
    """The same session run uninterrupted, in memory: its exact state at any step t."""

    def __init__(self, root: Path, sid: str) -> None:
        store = ArtifactStore(root)
        meta = S.read_meta(store, sid)
        params, mcfg, _ = load_base(store, meta["base_id"])
        self.args = (
            mcfg,
            params,
            EnvConfig.from_dict(meta["env_cfg"]),
            PlasticityConfig.from_dict(meta["plasticity_cfg"]),
        )
        self.start = NanoRunner.fresh(*self.args, seed=meta["seed"]).state()
        self.snaps: dict[int, RunnerState] = {0: self.start}

    def fork_at(self, state: RunnerState) -> Reference:
        """The reference of a fork that starts from ``state`` (its own frozen start)."""
        ref = object.__new__(Reference)
        ref.args = self.args
        ref.snaps = {state.t: state}
        ref.start = state
        return ref

    def state_at(self, t: int) -> RunnerState:
        if t not in self.snaps:
            start = max(k for k in self.snaps if k <= t)
            # The frozen predictor keeps the session's own start in every run, as sessions do.
            r = NanoRunner.resume(*self.args, self.snaps[start], frozen_plastic=self.start.plastic)
            while r.t < t:
                r.run_chunk(min(r.steps_to_boundary(), t - r.t), record=False)
                self.snaps.setdefault(r.t, r.state())
        return self.snaps[t]


def as_fork(st: RunnerState) -> RunnerState:
    """``st`` as a fork starts from it: the fork's frozen predictor starts at the fork point,
    so its hidden state is the adaptive one."""
    tensors = {**st.tensors, "h.frozen": st.tensors["h.adaptive"].clone()}
    return dataclasses.replace(st, tensors=tensors)


def assert_same_state(got: RunnerState, want: RunnerState, what: str) -> None:
    assert (got.t, got.commits) == (want.t, want.commits), (
        f"{what}: (t, commits) = {(got.t, got.commits)}, reference {(want.t, want.commits)}"
    )
    for part in ("plastic", "optim", "engine", "tensors"):
        a, b = getattr(got, part), getattr(want, part)
        assert a.keys() == b.keys(), f"{what}: {part} keys differ"
        for k in a:
            torch.testing.assert_close(
                a[k], b[k], rtol=0, atol=0, equal_nan=True, msg=f"{what}: {part}.{k} differs"
            )


# ---------------------------------------------------------------------------- invariants


def check_session(root: Path, sid: str, *, t_min: int, commits_min: int) -> tuple[int, int]:
    """Every reader agrees with the resume point; returns (t, commits)."""
    store = ArtifactStore(root)
    items, errors = S.list_sessions(store)
    assert not errors, f"unreadable sessions: {errors}"
    assert sid in {s["session_id"] for s in items}
    info = json.loads(_cli(root, "nano", "session", "show", sid, "--json"))
    d = store.item_dir("sessions", sid)
    assert not (d / ".pending").exists() and not (d / ".writer").exists(), "not settled"
    st = json.loads((d / "state.json").read_text())
    t, commits = st["t"], st["commits"]
    init = json.loads((d / "initial_state.json").read_text())
    assert t >= t_min and commits >= commits_min, (
        f"lost committed work: t={t} commits={commits}, had t>={t_min} commits>={commits_min}"
    )
    runs = info["runs"]
    assert all(r["status"] in ("completed", "cancelled", "failed", "interrupted") for r in runs)
    chain = init["t"]
    for r in runs:
        assert r["t_start"] == chain, (
            f"runs not contiguous: {[(x['t_start'], x['t_end']) for x in runs]}"
        )
        chain = r["t_end"]
        rd = S.run_dir(store, sid, r["run_id"])
        lines = (rd / "per_step.csv").read_text().splitlines()[1:]
        assert [int(x.split(",")[0]) for x in lines] == list(range(r["t_start"], r["t_end"]))
        events = json.loads((rd / "update_events.json").read_text())
        summary = json.loads((rd / "summary.json").read_text())
        assert summary["updates_attempted"] == len(events) and summary["steps"] == len(lines)
        assert not (rd / "parts").exists()
    assert chain == t, f"runs end at t={chain}, the state is at t={t}"
    m = info["metrics"]
    assert m["steps_total"] == t - init["t"], (m["steps_total"], t, init["t"])
    assert m["updates_committed"] == commits - init["commits"], (m["updates_committed"], commits)
    hist = S.weight_history(store, sid)
    assert [r["k"] for r in hist] == list(range(commits + 1)), [r["k"] for r in hist]
    w = read_tensors(d / "plastic_state.safetensors")
    last = S.weights_at(store, sid, commits)
    assert all(torch.equal(w[n], last[n]) for n in w), "history's last weights != fast weights"
    with store.lock("sessions", sid, timeout=0):
        pass
    return t, commits


def check_continues(root: Path, sid: str, ref: Reference, t: int, steps: int = 24) -> None:
    """The next run starts at the last commit and ends exactly like the reference."""
    store = ArtifactStore(root)
    rid = S.run_session(store, sid, steps=steps)
    run = S.read_json_run(store, sid, rid, "run.json")
    assert run["t_start"] == t and run["t_end"] == t + steps and run["status"] == "completed"
    d = store.item_dir("sessions", sid)
    from ttt.nano.persist import load_state

    assert_same_state(load_state(d), ref.state_at(t + steps), f"{sid} after the next run")


def check_fork_from(root: Path, sid: str, ref: Reference, k: int, new_id: str) -> None:
    store = ArtifactStore(root)
    rec = next(r for r in S.weight_history(store, sid) if r["k"] == k)
    S.fork_session(store, sid, from_update=k, new_session_id=new_id)
    from ttt.nano.persist import load_state

    got = load_state(store.item_dir("sessions", new_id))
    t = 0 if rec["run_id"] is None else int(rec["t"]) + 1  # k = 0: the session's start
    assert_same_state(got, as_fork(ref.state_at(t)), f"fork of {sid} at k={k}")


# ---------------------------------------------------------------------------- cases


def _base_root(root: Path) -> ArtifactStore:
    store = ArtifactStore(root)
    pretrain_base(store, preset="tiny", seed=0, base_id="tiny-base")
    return store


def prepare_run(root: Path) -> dict[str, Any]:
    """A session with one finished run that stopped mid-chunk (t=100)."""
    store = _base_root(root)
    S.create_session(
        store, base_id="tiny-base", mu=0.1, seed=3, session_id=SID, plasticity_overrides=PLASTICITY
    )
    S.run_session(store, SID, steps=100)
    st = json.loads((root / "sessions" / SID / "state.json").read_text())
    return {"sid": SID, "t0": st["t"], "commits0": st["commits"], "steps": 240}


def run_argv(ctx: dict[str, Any]) -> list[str]:
    return [
        "nano", "session", "run", ctx["sid"], "--steps", str(ctx["steps"]),
        "--checkpoint-seconds", str(ctx.get("checkpoint_seconds", 0)), "-q",
    ]  # fmt: skip


_REFS: dict[str, Reference] = {}


def _reference(root: Path, ctx: dict[str, Any]) -> Reference:
    key = ctx["template"]
    if key not in _REFS:
        _REFS[key] = Reference(Path(ctx["template"]), ctx["sid"])
    return _REFS[key]


def check_run(root: Path, ctx: dict[str, Any], outcome: Outcome) -> None:
    sid, ref = ctx["sid"], _reference(root, ctx)
    t, commits = check_session(root, sid, t_min=ctx["t0"], commits_min=ctx["commits0"])
    if not outcome.killed:
        assert t == ctx["t0"] + ctx["steps"]
    from ttt.nano.persist import load_state

    d = root / "sessions" / sid
    assert_same_state(load_state(d), ref.state_at(t), f"{sid} after the kill")
    rng = random.Random(outcome.point.label())
    k = rng.randint(0, commits)
    check_fork_from(root, sid, ref, k, "fk")
    check_continues(root, sid, ref, t)


def run_case() -> CrashCase:
    def ready(root: Path, ctx: dict[str, Any]) -> bool:
        return (root / "sessions" / ctx["sid"] / ".writer").exists()

    return CrashCase("nano_run", prepare_run, run_argv, check_run, ready=ready)


def prepare_fork(root: Path) -> dict[str, Any]:
    ctx = prepare_run(root)
    store = ArtifactStore(root)
    S.run_session(store, SID, steps=140)
    commits = json.loads((root / "sessions" / SID / "state.json").read_text())["commits"]
    return {**ctx, "from_update": max(1, commits // 2), "new_id": "child"}


def fork_argv(ctx: dict[str, Any]) -> list[str]:
    return [
        "nano", "session", "fork", ctx["sid"], "--from-update", str(ctx["from_update"]),
        "--new-id", ctx["new_id"],
    ]  # fmt: skip


def check_fork(root: Path, ctx: dict[str, Any], outcome: Outcome) -> None:
    sid, new_id, ref = ctx["sid"], ctx["new_id"], _reference(root, ctx)
    store = ArtifactStore(root)
    parent_before = json.loads(
        (Path(ctx["template"]) / "sessions" / sid / "state.json").read_text()
    )
    t, commits = check_session(root, sid, t_min=parent_before["t"], commits_min=0)
    assert (t, commits) == (parent_before["t"], parent_before["commits"]), "fork moved the parent"
    exists = (root / "sessions" / new_id / "meta.json").exists()
    if not outcome.killed:
        assert exists
    if not exists:
        assert not (root / "sessions" / new_id).exists(), "a half-made fork is visible"
        S.fork_session(store, sid, from_update=ctx["from_update"], new_session_id=new_id)
    from ttt.nano.persist import load_state

    rec = next(r for r in S.weight_history(store, sid) if r["k"] == ctx["from_update"])
    child = load_state(store.item_dir("sessions", new_id))
    assert_same_state(child, as_fork(ref.state_at(int(rec["t"]) + 1)), "the fork")
    check_session(root, new_id, t_min=child.t, commits_min=child.commits)
    meta = S.read_meta(store, new_id)
    assert meta["parent"]["update_index"] == ctx["from_update"]
    check_continues(root, new_id, ref.fork_at(child), child.t)


def fork_case() -> CrashCase:
    def ready(root: Path, ctx: dict[str, Any]) -> bool:
        return (root / "sessions" / ".locks").exists() and any(
            p.name.startswith(ctx["sid"]) for p in (root / "sessions" / ".locks").iterdir()
        )

    return CrashCase("nano_fork", prepare_fork, fork_argv, check_fork)


def prepare_sweep(root: Path) -> dict[str, Any]:
    _base_root(root)
    return {"sweep_id": "sw", "sessions": 8, "steps": 200}


def sweep_argv(ctx: dict[str, Any]) -> list[str]:
    return [
        "nano", "sweep", "--sessions", str(ctx["sessions"]), "--steps", str(ctx["steps"]),
        "--id", ctx["sweep_id"], "--json", "--set", "chunk=8",
    ]  # fmt: skip


def check_sweep(root: Path, ctx: dict[str, Any], outcome: Outcome) -> None:
    store = ArtifactStore(root)
    assert store.list_ids("sessions") == []
    ids = store.list_ids("sweeps")
    assert ids in ([], [ctx["sweep_id"]]), ids
    if ids:
        cfg = read_sweep(store, ctx["sweep_id"])
        assert cfg["status"] in ("interrupted", "completed"), cfg["status"]
        if cfg["status"] == "completed":
            assert len(sweep_rows(store, ctx["sweep_id"])) == ctx["sessions"]
        else:
            try:
                sweep_rows(store, ctx["sweep_id"])
            except NotFoundError:
                pass
            else:
                raise AssertionError("an interrupted sweep must not offer results")
    elif not outcome.killed:
        raise AssertionError("the sweep finished but is not there")
    with store.lock("sweeps", ctx["sweep_id"], timeout=0):
        pass
    new = run_sweep(store, n_sessions=2, steps=24, sweep_id="after", base_id="tiny-base")
    assert len(sweep_rows(store, new)) == 2
    # The killed sweep's temp folder (if any) is gone: its process is dead.
    assert not [p.name for p in (root / "sweeps").iterdir() if p.name.startswith(".tmp-new-")]


def sweep_case() -> CrashCase:
    def ready(root: Path, ctx: dict[str, Any]) -> bool:
        return (root / "sweeps").exists()

    return CrashCase("nano_sweep", prepare_sweep, sweep_argv, check_sweep, ready=ready)
