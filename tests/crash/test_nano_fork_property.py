"""Property: every listed committed update of every run is forkable, and exactly.

Hypothesis draws a session's chunk size and a sequence of runs, each with its own step
count (any, not a multiple of the chunk), an optional chunk-size override, and an ending:
finished, cancelled between chunks, failed inside a chunk, or SIGKILLed (in a forked child)
right before a random durable file operation. After every run:

* the session's resume point equals a reference runner that followed the same plan in
  memory (nothing committed lost, nothing torn);
* the listed updates (``weight_history``) are exactly k = 0..commits of the resume point;
* a plain ``fork`` records the update count of the state it copies;
* every listed update (a sample when there are many) rewinds to the reference's exact state
  right after it (``rewind_state``, what ``fork --from-update`` copies).
"""

from __future__ import annotations

import os
import random
import signal
from typing import Any

import inject
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nano_cases import as_fork, assert_same_state

from ttt.nano import session as S
from ttt.nano.base import load_base
from ttt.nano.config import PlasticityConfig
from ttt.nano.env import EnvConfig
from ttt.nano.persist import load_state
from ttt.nano.runner import NanoRunner, RunnerState

ENDINGS = ("done", "cancel", "fail", "kill")
_counter = [0]


def _plasticity(chunk: int) -> dict[str, Any]:
    return {
        "chunk": chunk,
        "holdout_every": min(4, chunk),
        "buffer_chunks": 3,
        "steps_per_update": 1,
    }


class PlanReference:
    """The session's plan replayed in memory: states at every chunk end it passed."""

    def __init__(self, store, sid: str) -> None:
        meta = S.read_meta(store, sid)
        params, self.mcfg, _ = load_base(store, meta["base_id"])
        self.params = params
        self.env_cfg = EnvConfig.from_dict(meta["env_cfg"])
        self.pcfg = PlasticityConfig.from_dict(meta["plasticity_cfg"])
        self.snaps: dict[int, RunnerState] = {}
        r = NanoRunner.fresh(self.mcfg, params, self.env_cfg, self.pcfg, seed=meta["seed"])
        self.state = r.state()
        self.snaps[0] = self.state

    def advance(self, t_end: int, pcfg: PlasticityConfig) -> None:
        r = NanoRunner.resume(
            self.mcfg, self.params, self.env_cfg, pcfg, self.state,
            frozen_plastic=self.snaps[0].plastic,
        )  # fmt: skip
        while r.t < t_end:
            r.run_chunk(min(r.steps_to_boundary(), t_end - r.t), record=False)
            self.snaps[r.t] = r.state()
        self.state = r.state()


def _kill_in_child(store, sid: str, steps: int, overrides: dict, kill_at: int) -> bool:
    """Run in a forked child that SIGKILLs itself before durable operation ``kill_at``."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            inject.install(kill_at)
            S.run_session(store, sid, steps=steps, overrides=overrides, checkpoint_seconds=0)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def _fail_inside_chunk(n: int):
    """Patch the runner so that its n-th transaction raises (the env already advanced)."""
    orig = NanoRunner._transact
    calls = [0]

    def boom(self, t_last, **kw):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if calls[0] >= n:
            raise RuntimeError("injected failure inside a chunk")
        return orig(self, t_last, **kw)

    return orig, boom


run_plan = st.tuples(
    st.integers(1, 70),  # steps
    st.sampled_from(ENDINGS),
    st.integers(1, 400),  # where the ending lands (chunk count or durable operation)
    st.one_of(st.none(), st.integers(2, 9)),  # chunk override for this run
)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(chunk=st.integers(2, 11), plan=st.lists(run_plan, min_size=1, max_size=3))
def test_every_listed_update_is_forkable_and_exact(store, chunk, plan):
    _counter[0] += 1
    sid = f"p{_counter[0]}"
    S.create_session(
        store,
        base_id="tiny-base",
        mu=0.08,
        seed=11,
        session_id=sid,
        plasticity_overrides=_plasticity(chunk),
    )
    ref = PlanReference(store, sid)
    d = store.item_dir("sessions", sid)
    rng = random.Random(repr((chunk, plan)))
    n_runs = 0
    for steps, ending, where, override in plan:
        ov = {"plasticity": _plasticity(override)} if override else {}
        pcfg = PlasticityConfig.from_dict({**ref.pcfg.to_dict(), **(ov.get("plasticity") or {})})
        if ending == "kill":
            _kill_in_child(store, sid, steps, ov, where)
        elif ending == "cancel":
            polls = [0]

            def cancel(polls=polls, where=where) -> bool:
                polls[0] += 1
                return polls[0] > where % 6

            S.run_session(store, sid, steps=steps, overrides=ov, cancel=cancel)
        elif ending == "fail":
            orig, boom = _fail_inside_chunk(1 + where % 5)
            NanoRunner._transact = boom  # type: ignore[method-assign]
            try:
                S.run_session(store, sid, steps=steps, overrides=ov)
            except RuntimeError as exc:
                assert "injected" in str(exc)
            finally:
                NanoRunner._transact = orig  # type: ignore[method-assign]
        else:
            S.run_session(store, sid, steps=steps, overrides=ov)

        hist = S.weight_history(store, sid)  # settles a killed run
        runs = S.list_runs(store, sid)
        if len(runs) == n_runs:  # killed before the run existed: nothing changed
            assert ending == "kill"
        else:
            n_runs += 1
            last = runs[-1]
            assert last["status"] in ("completed", "cancelled", "failed", "interrupted")
            if ending == "done":
                assert last["status"] == "completed"
                assert last["t_end"] == last["t_start"] + steps
            ref.advance(last["t_end"], pcfg)
        state = load_state(d)
        assert_same_state(state, ref.state, f"{sid} after a {ending} run")
        # One source of truth: listed updates are exactly those of the resume point.
        assert [r["k"] for r in hist] == list(range(state.commits + 1))

    # A plain fork records the update count of the state it copies.
    plain = S.fork_session(store, sid)
    meta = S.read_meta(store, plain)
    state = load_state(d)
    assert meta["parent"]["update_index"] == state.commits
    assert_same_state(load_state(store.item_dir("sessions", plain)), as_fork(state), "plain fork")
    assert S.weight_history(store, plain)[-1]["k"] == state.commits

    # Every listed update rewinds to the exact state right after it.
    hist = S.weight_history(store, sid)
    picks = hist if len(hist) <= 6 else [hist[0], hist[-1], *rng.sample(hist[1:-1], 4)]
    for rec in picks:
        got = S.rewind_state(store, d, rec)
        want = ref.snaps[int(rec["t"]) + 1] if rec["run_id"] else ref.snaps[0]
        assert_same_state(got, want, f"rewind to k={rec['k']}")
        w = S.weights_at(store, sid, rec["k"])
        assert all(torch.equal(w[n], got.plastic[n]) for n in w)


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(chunk=st.integers(2, 16), plan=st.lists(run_plan, min_size=1, max_size=4))
def test_every_listed_update_is_forkable_and_exact_many(store, chunk, plan):
    test_every_listed_update_is_forkable_and_exact.hypothesis.inner_test(store, chunk, plan)  # type: ignore[attr-defined]
