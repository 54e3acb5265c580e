"""``ttt nano``: pretrain bases, create/run/fork/list/show sessions, sweep across μ.

A run or sweep stops cleanly on the first SIGINT (Ctrl-C) or SIGTERM: at the next chunk
boundary, with everything done so far committed (run status ``cancelled``); a second signal
stops at once (the chunk in flight is not committed). A SIGKILL loses at most the steps
since the last checkpoint (``--checkpoint-seconds``); the next command that opens the
session finishes the killed run's files (status ``interrupted``).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.table import Table

from ttt.cli.common import (
    ArtifactsRoot,
    console,
    domain_errors,
    get_store,
    parse_kv,
    print_json,
    progress_bar,
)

app = typer.Typer(
    help="The Nano world: hidden-μ physics, SSM fast weights, branching sessions.",
    no_args_is_help=True,
)
session_app = typer.Typer(
    help="Branchable sessions: new, run, fork, list, show.", no_args_is_help=True
)
app.add_typer(session_app, name="session")

SetOpt = typer.Option(
    None, "--set", help="Plasticity override key=value (repeatable), e.g. --set lr=0.01."
)
EnvSetOpt = typer.Option(
    None, "--env-set", help="Environment override key=value (repeatable), e.g. --env-set mu=0.4."
)
CanaryOpt = typer.Option(
    False,
    "--canary",
    help="Probe a canary (fixed reference trajectories at a reference μ) around every update.",
)
CanaryMaxDeltaOpt = typer.Option(
    None,
    "--canary-max-delta",
    help="Roll back a write that raises the canary loss by more than this (implies --canary).",
)
CanaryZOpt = typer.Option(
    None,
    "--canary-z",
    help="Roll back a write whose canary-loss rise is a robust-z outlier above this z against "
    "the session's committed updates (implies --canary).",
)
SpfwOpt = typer.Option(
    None,
    "--spfw",
    help="Project every write so that no canary loss rises to first order: halfspace or "
    "nullspace (implies --canary).",
)


@contextmanager
def _stop_on_signal(what: str) -> Iterator[Callable[[], str | None]]:
    """Yields ``stopped()``: None, or the name of the first SIGINT/SIGTERM received (the work
    then stops at its next chunk boundary). A second signal raises KeyboardInterrupt."""
    got: list[str] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if got:
            raise KeyboardInterrupt(f"{signal.Signals(signum).name} (second signal)")
        got.append(signal.Signals(signum).name)
        console.print(f"[yellow]{got[0]}: stopping {what} at the next chunk (again: at once)[/]")

    previous: dict[int, Any] = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread (e.g. under a test runner's thread)
        pass
    try:
        yield lambda: got[0] if got else None
    except KeyboardInterrupt:
        console.print(f"[yellow]{what} stopped ({got[0] if got else 'SIGINT'})[/]")
        raise typer.Exit(143 if got and got[0] == "SIGTERM" else 130) from None
    finally:
        for num, old in previous.items():
            signal.signal(num, old)


def _exit_if_stopped(stopped: str | None) -> None:
    if stopped is not None:
        raise typer.Exit(143 if stopped == "SIGTERM" else 130)


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        if threads < 1:
            raise typer.BadParameter(f"--threads must be >= 1, got {threads}")
        import torch

        torch.set_num_threads(threads)


ThreadsOpt = typer.Option(None, "--threads", help="CPU threads for torch (default: torch's).")


def _env_overrides(
    noise: float | None,
    process_noise: float | None,
    schedule: str | None,
    drift_rate: float | None,
    jump_step: int | None,
    jump_to: float | None,
    extra: list[str] | None,
) -> dict[str, Any]:
    ov: dict[str, Any] = {
        "obs_noise_std": noise,
        "process_noise_std": process_noise,
        "schedule": schedule,
        "drift_rate": drift_rate,
        "jump_step": jump_step,
        "jump_to": jump_to,
    }
    ov = {k: v for k, v in ov.items() if v is not None}
    ov.update(parse_kv(extra, "env"))
    return ov


def _plast_overrides(
    lr: float | None, chunk: int | None, extra: list[str] | None
) -> dict[str, Any]:
    ov: dict[str, Any] = {k: v for k, v in {"lr": lr, "chunk": chunk}.items() if v is not None}
    ov.update(parse_kv(extra, "plasticity"))
    return ov


def _with_safety(
    ov: dict[str, Any],
    canary: bool,
    canary_max_delta: float | None,
    canary_z: float | None,
    spfw: str | None,
) -> dict[str, Any]:
    """Add the canary / canary-rollback / SPFW options to plasticity overrides."""
    from ttt.nano.config import PlasticityConfig, apply_overrides, safety_overrides

    # The checks in force: the defaults with any --set checks=... merged in (deep merge:
    # overriding the pre-checks keeps the default post-checks).
    checks = apply_overrides(PlasticityConfig().to_dict(), ov)["checks"]
    extra = safety_overrides(
        checks,
        canary=canary,
        canary_max_delta=canary_max_delta,
        canary_z=canary_z,
        spfw=spfw,
    )
    if "canary" in ov and "canary" in extra:
        extra.pop("canary")  # an explicit --set canary=... wins
    return {**ov, **extra}


@app.command("pretrain")
def pretrain_cmd(
    preset: str = typer.Option("default", help="Pretraining preset: default (~30 s) or tiny."),
    seed: int = typer.Option(0, help="Pretraining seed (kept disjoint from evaluation seeds)."),
    base_id: str | None = typer.Option(None, "--base-id", help="Id of the new base."),
    as_json: bool = typer.Option(False, "--json", help="Print the base's meta as JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Pretrain a new Nano base (never overwrites an existing one)."""
    from ttt.nano.base import load_base, pretrain_base

    store = get_store(artifacts_root)
    with domain_errors(), progress_bar("pretraining", enabled=not as_json) as bar:
        bid = pretrain_base(store, preset=preset, seed=seed, base_id=base_id, progress=bar)
        _, _, meta = load_base(store, bid)
    if as_json:
        print_json(meta)
    else:
        console.print(f"base [bold]{bid}[/] written to {store.item_dir('base', bid)}")
        typer.echo(bid)


@session_app.command("new")
def session_new(
    env_mode: str = typer.Option("linear", "--env-mode", help="linear or nonlinear friction."),
    mu: float | None = typer.Option(None, help="Hidden friction μ (default: U(0.02, 0.25))."),
    seed: int | None = typer.Option(None, help="Environment seed (default: random)."),
    base: str | None = typer.Option(None, "--base", help="Base id (default: newest base)."),
    noise: float | None = typer.Option(None, "--noise", help="Observation noise std."),
    process_noise: float | None = typer.Option(None, help="Process noise std on velocity."),
    schedule: str | None = typer.Option(None, help="μ schedule: constant, drift or jump."),
    drift_rate: float | None = typer.Option(None, help="μ change per step (drift schedule)."),
    jump_step: int | None = typer.Option(None, help="Step at which μ jumps (jump schedule)."),
    jump_to: float | None = typer.Option(None, help="μ after the jump (jump schedule)."),
    lr: float | None = typer.Option(None, help="Muon learning rate of the fast weights."),
    chunk: int | None = typer.Option(None, help="Steps per update transaction."),
    set_: list[str] | None = SetOpt,
    env_set: list[str] | None = EnvSetOpt,
    canary: bool = CanaryOpt,
    canary_max_delta: float | None = CanaryMaxDeltaOpt,
    canary_z: float | None = CanaryZOpt,
    spfw: str | None = SpfwOpt,
    session_id: str | None = typer.Option(None, "--id", help="Id of the new session."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Create a session: fast weights start from the base; μ stays hidden from the model."""
    from ttt.nano.session import create_session

    store = get_store(artifacts_root)
    with domain_errors():
        plast = _with_safety(
            _plast_overrides(lr, chunk, set_), canary, canary_max_delta, canary_z, spfw
        )
        sid = create_session(
            store,
            base_id=base,
            mu=mu,
            env_mode=env_mode,
            seed=seed,
            env_overrides=_env_overrides(
                noise, process_noise, schedule, drift_rate, jump_step, jump_to, env_set
            ),
            plasticity_overrides=plast,
            session_id=session_id,
        )
    typer.echo(sid)


@session_app.command("run")
def session_run(
    session_id: str = typer.Argument(..., help="Session id."),
    steps: int = typer.Option(
        600, help="Steps to run, 1..10,000,000 (continues where the session stopped)."
    ),
    lr: float | None = typer.Option(None, help="Override the Muon lr for this run."),
    chunk: int | None = typer.Option(None, help="Override steps per update for this run."),
    set_: list[str] | None = SetOpt,
    env_set: list[str] | None = EnvSetOpt,
    checkpoint_seconds: float = typer.Option(
        5.0,
        "--checkpoint-seconds",
        help="Commit progress at least this often (0: after every chunk); a kill loses at "
        "most the steps since the last commit.",
    ),
    threads: int | None = ThreadsOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print the run summary as JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Run (resume) a session for N steps as a new run; overrides are recorded in run.json.

    Ctrl-C or SIGTERM stops at the next chunk with the run recorded as cancelled."""
    from ttt.nano.session import check_steps, read_json_run, run_session

    store = get_store(artifacts_root)
    _set_threads(threads)
    overrides: dict[str, Any] = {}
    with domain_errors():
        check_steps(steps, "--steps")
    with (
        domain_errors(),
        _stop_on_signal(f"run {session_id}") as stopped,
        progress_bar(f"run {session_id}", enabled=not (quiet or as_json)) as bar,
    ):
        p = _plast_overrides(lr, chunk, set_)
        e = parse_kv(env_set, "env")
        if p:
            overrides["plasticity"] = p
        if e:
            overrides["env"] = e
        rid = run_session(
            store,
            session_id,
            steps=steps,
            overrides=overrides,
            progress=bar,
            cancel=lambda: stopped() is not None,
            checkpoint_seconds=checkpoint_seconds,
        )
        summary = read_json_run(store, session_id, rid, "summary.json")
        run = read_json_run(store, session_id, rid, "run.json")
    if as_json:
        print_json({"run_id": rid, "status": run["status"], **summary})
    else:
        console.print(
            f"run [bold]{rid}[/] ({run['status']}, t={run['t_start']}..{run['t_end']}): "
            f"baseline last-100 MSE {_f(summary['baseline_mse_last100_mean'])}, "
            f"adaptive {_f(summary['adaptive_mse_last100_mean'])}"
            f" (gain {_f(summary['improvement_last100'])}); commits "
            f"{summary['updates_committed']}/{summary['updates_attempted']}"
        )
        typer.echo(rid)
    _exit_if_stopped(stopped())


@session_app.command("fork")
def session_fork(
    session_id: str = typer.Argument(..., help="Session to branch."),
    from_update: int | None = typer.Option(
        None, "--from-update", help="Committed update k to branch at (default: latest state)."
    ),
    no_momentum: bool = typer.Option(False, "--no-momentum", help="Start with zero momentum."),
    new_id: str | None = typer.Option(None, "--new-id", help="Id of the new session."),
    set_: list[str] | None = SetOpt,
    env_set: list[str] | None = EnvSetOpt,
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Fork a session at its latest state or at committed update k (shares weight blobs)."""
    from ttt.nano.session import fork_session

    store = get_store(artifacts_root)
    overrides: dict[str, Any] = {}
    with domain_errors():
        if set_:
            overrides["plasticity"] = parse_kv(set_, "plasticity")
        if env_set:
            overrides["env"] = parse_kv(env_set, "env")
        sid = fork_session(
            store,
            session_id,
            from_update=from_update,
            with_momentum=not no_momentum,
            new_session_id=new_id,
            overrides=overrides,
        )
    typer.echo(sid)


def _f(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


@session_app.command("list")
def session_list(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """List sessions with μ, env mode, commits and last-100 improvement."""
    from ttt.nano.session import list_sessions

    store = get_store(artifacts_root)
    with domain_errors():
        items, errors = list_sessions(store)
    if as_json:
        print_json({"items": items, "errors": errors})
        return
    table = Table(title=f"sessions in {store.root}")
    for col in ("session", "parent", "mode", "μ", "steps", "commits", "gain last-100"):
        table.add_column(col)
    for s in items:
        parent = (
            s["parent"]["session_id"] + f"@{s['parent']['update_index']}" if s["parent"] else ""
        )
        table.add_row(
            s["session_id"],
            parent,
            str(s["env_mode"]),
            _f(s["mu"]),
            str(s["steps_total"]),
            f"{s['updates_committed']}/{s['updates_attempted']}",
            _f(s["improvement_last100"]),
        )
    console.print(table)
    for e in errors:
        console.print(f"[yellow]unreadable session {e['id']}:[/] {e['detail']}")


@session_app.command("show")
def session_show(
    session_id: str = typer.Argument(..., help="Session id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Show a session's meta, metrics and runs."""
    from ttt.nano.session import list_runs, read_meta, read_metrics

    store = get_store(artifacts_root)
    with domain_errors():
        info: dict[str, Any] = {
            "meta": read_meta(store, session_id),
            "metrics": read_metrics(store, session_id),
            "runs": list_runs(store, session_id),
        }
    if as_json:
        print_json(info)
        return
    m, mt = info["meta"], info["metrics"]
    console.print(
        f"[bold]{m['session_id']}[/]  mode={m['env_mode']} μ={_f(m['mu'])} "
        f"base={m['base_id']} seed={m['seed']}"
    )
    if m.get("parent"):
        p = m["parent"]
        console.print(
            f"forked from {p['session_id']} at update {p['update_index']} "
            f"(t={p['t']}, momentum={'yes' if p['with_momentum'] else 'no'})"
        )
    console.print(
        f"steps {mt.get('steps_total', 0)}, commits {mt.get('updates_committed', 0)}/"
        f"{mt.get('updates_attempted', 0)}, baseline last-100 "
        f"{_f(mt.get('baseline_mse_last100_mean'))}, adaptive "
        f"{_f(mt.get('adaptive_mse_last100_mean'))}, gain {_f(mt.get('improvement_last100'))}"
    )
    for r in info["runs"]:
        console.print(f"  run {r['run_id']}: {r['status']} t={r['t_start']}..{r['t_end']}")
    console.print(
        f"resume: ttt nano session run {m['session_id']} --steps 600 --artifacts-root {store.root}"
    )


@app.command("sweep")
def sweep_cmd(
    sessions: int = typer.Option(32, help="Sessions per env mode (μ on an even grid)."),
    mu_min: float = typer.Option(0.02, help="Smallest μ of the grid."),
    mu_max: float = typer.Option(0.25, help="Largest μ of the grid."),
    env_modes: str = typer.Option("linear", help="Comma-separated env modes."),
    steps: int = typer.Option(600, help="Steps per session, 1..10,000,000."),
    noise: float = typer.Option(0.0, "--noise", help="Observation noise std."),
    seed: int = typer.Option(0, help="First environment seed (session i uses seed+i)."),
    base: str | None = typer.Option(None, "--base", help="Base id (default: newest)."),
    out: Path | None = typer.Option(None, help="Also write the table to this CSV/JSON file."),
    as_json: bool = typer.Option(False, "--json", help="Print the table as JSON."),
    set_: list[str] | None = SetOpt,
    canary: bool = CanaryOpt,
    canary_max_delta: float | None = CanaryMaxDeltaOpt,
    canary_z: float | None = CanaryZOpt,
    spfw: str | None = SpfwOpt,
    sweep_id: str | None = typer.Option(None, "--id", help="Id of the new sweep."),
    threads: int | None = ThreadsOpt,
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Run many sessions across a μ grid at once (vectorised); one result table.

    Ctrl-C or SIGTERM stops the sweep (status cancelled, no results)."""
    from ttt.nano.sweep import run_sweep, sweep_rows

    store = get_store(artifacts_root)
    _set_threads(threads)
    modes = tuple(m.strip() for m in env_modes.split(",") if m.strip())
    with (
        domain_errors(),
        _stop_on_signal("sweep") as stopped,
        progress_bar("sweep", enabled=not as_json) as bar,
    ):
        plast = _with_safety(parse_kv(set_, "plasticity"), canary, canary_max_delta, canary_z, spfw)
        sid = run_sweep(
            store,
            n_sessions=sessions,
            mu_range=(mu_min, mu_max),
            env_modes=modes,
            steps=steps,
            noise_std=noise,
            seed=seed,
            base_id=base,
            plasticity_overrides=plast or None,
            sweep_id=sweep_id,
            progress=bar,
            cancel=lambda: stopped() is not None,
        )
        rows = sweep_rows(store, sid)
    if out is not None:
        from ttt.nano.sweep import write_table

        write_table(rows, out)
    if as_json:
        print_json({"sweep_id": sid, "rows": rows})
        return
    gains = sorted(r["gain"] for r in rows if r["gain"] is not None)
    console.print(
        f"sweep [bold]{sid}[/]: {len(rows)} sessions, median gain "
        f"{_f(gains[len(gains) // 2] if gains else None)}, worst {_f(gains[0] if gains else None)}"
        f", adaptive better in {sum(g > 0 for g in gains)}/{len(rows)}"
    )
    typer.echo(sid)
