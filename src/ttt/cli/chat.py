"""``ttt chat``: chat sessions whose fast weights learn from every prompt (ttt.text.chat).

ttt chat                                   # REPL in a new session (default model, safety all)
ttt chat --session SID                     # REPL in an existing session
ttt chat new [--model ID] [--safety all] [--id SID] [--set lr=0.05] [--json]
ttt chat send SID "Zorvath lives in Marnhold." [--json]      # or the prompt on stdin
ttt chat list | show SID | fork SID [--id NEW] [--no-momentum] | reset SID | delete SID --yes
ttt chat flag SID TURN --reason "..."      # add the turn's prompt to flagged_prompts.json
ttt chat config SID --set safety=off       # change the session's SentryConfig
ttt chat probe SID --question "Who keeps the lighthouse?" --expected "Edda Quist" [--json]
                                           # answer and loss with and without the fast weights

REPL commands: ``/reset``, ``/fork [new_id]`` (continue in the fork), ``/stats`` (the last
turn's update events), ``/help``, ``/quit`` (or end of input); ``//text`` sends ``/text``.
Replies stream token by token; line editing and history come from readline when available.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ttt.cli.common import ArtifactsRoot, console, domain_errors, get_store, parse_kv, print_json
from ttt.store import ArtifactStore, StoreError

app = typer.Typer(
    help="Chat sessions with per-session fast weights: every prompt is gated and learned "
    "(canary rollback, SPFW), replies stream; create, fork, reset and inspect sessions. "
    "Without a subcommand: an interactive REPL.",
    invoke_without_command=True,
    no_args_is_help=False,
)

ModelOpt = typer.Option(
    None, "--model", "-m", help="Text model id (default: the default model; see `ttt lm list`)."
)
SafetyOpt = typer.Option("all", "--safety", help="Defences: off | gate | rollback | spfw | all.")
SetsOpt = typer.Option(
    None,
    "--set",
    help="Any SentryConfig field=value, e.g. lr=0.05, steps_per_update=2, "
    "canary_max_delta=0.02 (repeatable).",
)
ThreadsOpt = typer.Option(
    None, "--threads", min=1, help="CPU threads for torch (default: torch's choice)."
)


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def _new_session(
    store: ArtifactStore,
    model: str | None,
    safety: str,
    session_id: str | None,
    sets: list[str] | None,
    generation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from ttt.text.chat import create_session

    overrides = {"safety": safety, **parse_kv(sets, "--set")}
    return create_session(store, model, overrides, session_id, generation)


def _read_prompt(prompt: str | None) -> str | bytes:
    """The prompt argument, or stdin (as bytes: decoding errors are reported) for ``-``."""
    if prompt is not None and prompt != "-":
        return prompt
    if sys.stdin.isatty():
        raise ValueError("no prompt: give it as an argument or pipe it on stdin")
    return sys.stdin.buffer.read()


def _fmt(v: Any, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def _turn_summary(rec: dict[str, Any]) -> str:
    n = len(rec["updates"])
    lat = rec["latency_ms"]
    if rec["blocked"]:
        reasons = "; ".join(r for g in rec["gate"] if not g["allowed"] for r in g["reasons"])
        head = f"blocked by the gate, not learned ({reasons})"
    else:
        statuses = ", ".join(sorted({u["status"] for u in rec["updates"]}))
        head = f"learned {rec['committed_chunks']}/{n} chunk(s) [{statuses}]"
    return (
        f"turn {rec['turn']}: {head}; |Δw| {rec['fast_weight_norm']:.4f}; "
        f"{lat['total']:.0f} ms (update {lat['update']:.0f}, generate {lat['generate']:.0f})"
    )


def _print_stats(store: ArtifactStore, sid: str, echo: Callable[[str], None]) -> None:
    """The last turn's update events, one line per prompt chunk."""
    from ttt.text.chat import read_events, read_session

    meta = read_session(store, sid)
    if meta["n_turns"] == 0:
        echo(f"session {sid}: no turns yet")
        return
    turn = meta["n_turns"] - 1
    events = read_events(store, sid, turn)
    if not events:
        echo(f"session {sid}: no events for turn {turn}")
        return
    echo(f"session {sid}, turn {turn} ({meta['config']['safety']}):")
    for e in events:
        spfw = e.get("spfw") or {}
        removed = spfw.get("fraction_removed")
        echo(
            f"  chunk {e['chunk']}: {e['status']}  loss {_fmt(e['loss'])}  "
            f"grad {_fmt(e['grad_norm'], '.3g')} (z {_fmt(e['grad_norm_z'], '.1f')})  "
            f"update {_fmt(e['update_norm'], '.3g')}  canary Δ {_fmt(e['canary']['delta'], '+.4f')}"
            f"  cos {_fmt(e['canary_cos'], '.2f')}"
            + (f"  spfw removed {removed:.2f}" if isinstance(removed, (int, float)) else "")
            + f"  {e['timing_ms']['total']:.0f} ms"
        )
        for r in e["reasons"]:
            echo(f"    {r}")


REPL_HELP = (
    "commands: /reset (fresh fast weights), /fork [new_id] (continue in a fork), "
    "/stats (last turn's updates), /help, /quit; //text sends '/text'"
)


def run_repl(
    store: ArtifactStore,
    sid: str,
    *,
    read: Callable[[str], str] = input,
    echo: Callable[..., None] = typer.echo,
) -> str:
    """The interactive loop; returns the session id it ended in."""
    from ttt.text.chat import fork_session, read_session, reset_session, send_message

    meta = read_session(store, sid)
    echo(
        f"session {sid} on model {meta['model_id']} ({meta.get('backend', 'tinylm')}, "
        f"safety {meta['config']['safety']}, "
        f"{meta['n_turns']} turns). {REPL_HELP}"
    )
    while True:
        try:
            line = read("you> ")
        except EOFError:
            echo("")
            break
        except KeyboardInterrupt:
            echo("")
            break
        cmd = line.strip()
        if not cmd:
            continue
        try:
            if cmd.startswith("/") and not cmd.startswith("//"):
                name, _, arg = cmd[1:].partition(" ")
                if name in ("quit", "exit", "q"):
                    break
                if name == "reset":
                    reset_session(store, sid)
                    echo(f"session {sid}: fast weights and optimiser reset (trace kept)")
                elif name == "fork":
                    child = fork_session(store, sid, arg.strip() or None)
                    echo(f"forked {sid} -> {child['session_id']}; now in {child['session_id']}")
                    sid = child["session_id"]
                elif name == "stats":
                    _print_stats(store, sid, echo)
                elif name == "help":
                    echo(REPL_HELP)
                else:
                    echo(f"unknown command /{name}; {REPL_HELP}")
                continue
            text = line[1:] if cmd.startswith("//") else line
            echo("bot> ", nl=False)
            rec = send_message(store, sid, text, on_token=lambda piece: echo(piece, nl=False))
            echo("")
            echo(f"  ({_turn_summary(rec)})")
        except (StoreError, ValueError, KeyError) as e:
            msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
            echo(f"error: {msg}", err=True)
    return sid


@app.callback()
def repl_cmd(
    ctx: typer.Context,
    session: str | None = typer.Option(
        None, "--session", "-s", help="Chat in this session (default: a new one)."
    ),
    model: str | None = ModelOpt,
    safety: str = SafetyOpt,
    session_id: str | None = typer.Option(None, "--id", help="Id of the new session."),
    sets: list[str] | None = SetsOpt,
    threads: int | None = ThreadsOpt,
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Interactive chat (REPL) when no subcommand is given."""
    if ctx.invoked_subcommand is not None:
        return
    _set_threads(threads)
    store = get_store(artifacts_root)
    if sys.stdin.isatty():
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
    with domain_errors():
        if session is None:
            session = _new_session(store, model, safety, session_id, sets)["session_id"]
        run_repl(store, session)


@app.command("new")
def new_cmd(
    model: str | None = ModelOpt,
    safety: str = SafetyOpt,
    session_id: str | None = typer.Option(None, "--id", help="Session id (default: generated)."),
    sets: list[str] | None = SetsOpt,
    max_tokens: int = typer.Option(64, "--max-tokens", help="Reply length (tokens) at most."),
    temperature: float = typer.Option(0.8, help="Sampling temperature; 0 = greedy."),
    top_k: int = typer.Option(40, "--top-k", help="Sample among the k most likely; 0 = all."),
    as_json: bool = typer.Option(False, "--json", help="Print session.json."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Create a session with fresh fast weights; prints its id."""
    store = get_store(artifacts_root)
    gen = {"max_tokens": max_tokens, "temperature": temperature, "top_k": top_k or None}
    with domain_errors():
        meta = _new_session(store, model, safety, session_id, sets, gen)
    if as_json:
        print_json(meta)
    else:
        typer.echo(meta["session_id"])


@app.command("send")
def send_cmd(
    session: str = typer.Argument(..., help="Session id."),
    prompt: str | None = typer.Argument(None, help="The message ('-' or none: read stdin)."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Reply length override."),
    temperature: float | None = typer.Option(None, help="Sampling temperature override."),
    seed: int | None = typer.Option(None, help="Sampling seed (default: from config and turn)."),
    threads: int | None = ThreadsOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the trace record as JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Send one message: gate and learn it, stream the reply, store the turn."""
    from ttt.text.chat import send_message

    _set_threads(threads)
    store = get_store(artifacts_root)

    def stream(piece: str) -> None:
        typer.echo(piece, nl=False)

    with domain_errors():
        rec = send_message(
            store,
            session,
            _read_prompt(prompt),
            max_tokens=max_tokens,
            temperature=temperature,
            seed=seed,
            on_token=None if as_json else stream,
        )
    if as_json:
        print_json(rec)
        return
    typer.echo("")
    console.print(_turn_summary(rec), markup=False, highlight=False)


@app.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Sessions, most recently used first."""
    from ttt.text.chat import list_sessions

    sessions = list_sessions(get_store(artifacts_root))
    if as_json:
        print_json(sessions)
        return
    table = Table(title="chat sessions")
    for col in ("session_id", "model", "safety", "turns", "parent", "updated"):
        table.add_column(col)
    for s in sessions:
        parent = s.get("parent") or {}
        table.add_row(
            s["session_id"],
            str(s.get("model_id", "-")),
            str((s.get("config") or {}).get("safety", s.get("status", "-"))),
            str(s.get("n_turns", "-")),
            f"{parent['session_id']}@{parent['turn']}" if parent else "-",
            str(s.get("updated_at", "-")),
        )
    console.print(table)


@app.command("show")
def show_cmd(
    session: str = typer.Argument(..., help="Session id."),
    events: bool = typer.Option(False, "--events", help="With --json: add every chunk event."),
    as_json: bool = typer.Option(False, "--json", help="Print session, trace (and events)."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """A session: its settings and every turn."""
    from ttt.text.chat import read_events, read_session, read_trace

    store = get_store(artifacts_root)
    with domain_errors():
        meta = read_session(store, session)
        trace = read_trace(store, session)
        evs = read_events(store, session) if events else None
    if as_json:
        print_json({"session": meta, "trace": trace, **({"events": evs} if events else {})})
        return
    parent = meta.get("parent")
    typer.echo(
        f"{session}: model {meta['model_id']}, safety {meta['config']['safety']}, "
        f"{meta['n_turns']} turns, {len(meta.get('resets', []))} reset(s)"
        + (f", forked from {parent['session_id']} after turn {parent['turn']}" if parent else "")
    )
    table = Table(show_lines=False)
    for col in ("turn", "blocked", "learned", "|Δw|", "ms", "prompt", "reply"):
        table.add_column(col)
    for r in trace:
        table.add_row(
            str(r["turn"]),
            "yes" if r["blocked"] else "",
            f"{r['committed_chunks']}/{len(r['updates'])}",
            f"{r['fast_weight_norm']:.4f}",
            f"{r['latency_ms']['total']:.0f}",
            r["prompt"][:40].replace("\n", " "),
            r["completion"][:40].replace("\n", " "),
        )
    console.print(table)


@app.command("fork")
def fork_cmd(
    session: str = typer.Argument(..., help="Session to fork."),
    new_id: str | None = typer.Option(None, "--id", help="Id of the fork (default: generated)."),
    momentum: bool = typer.Option(
        True, "--momentum/--no-momentum", help="Copy the optimiser momentum (or zero it)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the fork's session.json."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Copy a session's fast weights (and momentum) into a new session; prints its id."""
    from ttt.text.chat import fork_session

    with domain_errors():
        meta = fork_session(get_store(artifacts_root), session, new_id, with_momentum=momentum)
    if as_json:
        print_json(meta)
    else:
        typer.echo(meta["session_id"])


@app.command("reset")
def reset_cmd(
    session: str = typer.Argument(..., help="Session id."),
    as_json: bool = typer.Option(False, "--json", help="Print session.json."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Fresh fast weights and optimiser state; the trace is kept."""
    from ttt.text.chat import reset_session

    with domain_errors():
        meta = reset_session(get_store(artifacts_root), session)
    if as_json:
        print_json(meta)
    else:
        typer.echo(f"{session}: reset after turn {meta['n_turns']}")


@app.command("delete")
def delete_cmd(
    session: str = typer.Argument(..., help="Session id."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Delete a session's folder (fast weights, trace, events)."""
    from ttt.text.chat import delete_session, read_session

    store = get_store(artifacts_root)
    with domain_errors():
        read_session(store, session)
        if not yes:
            typer.confirm(f"delete chat session {session} and its trace?", abort=True)
        delete_session(store, session)
    typer.echo(f"deleted {session}")


@app.command("flag")
def flag_cmd(
    session: str = typer.Argument(..., help="Session id."),
    turn: int = typer.Argument(..., help="Turn number."),
    reason: str = typer.Option(..., "--reason", help="Why the prompt is flagged."),
    as_json: bool = typer.Option(False, "--json", help="Print the flagged-prompt entry."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Flag a turn's prompt (added to flagged_prompts.json for the auditor and red team)."""
    from ttt.text.chat import flag_turn

    with domain_errors():
        entry = flag_turn(get_store(artifacts_root), session, turn, reason)
    if as_json:
        print_json(entry)
    else:
        typer.echo(f"flagged {session} turn {turn} as {entry['id']}")


@app.command("config")
def config_cmd(
    session: str = typer.Argument(..., help="Session id."),
    sets: list[str] | None = SetsOpt,
    as_json: bool = typer.Option(False, "--json", help="Print session.json."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Show or change a session's SentryConfig (defences, lr, steps per update...)."""
    from ttt.text.chat import read_session, set_safety

    store = get_store(artifacts_root)
    with domain_errors():
        overrides = parse_kv(sets, "--set")
        meta = set_safety(store, session, overrides) if overrides else read_session(store, session)
    if as_json:
        print_json(meta)
    else:
        for k, v in meta["config"].items():
            typer.echo(f"{k} = {v!r}")


@app.command("probe")
def probe_cmd(
    session: str = typer.Argument(..., help="Session id."),
    question: str = typer.Option(..., "--question", "-q", help="The question to ask."),
    expected: str | None = typer.Option(
        None, "--expected", "-e", help="The answer you expect: its loss is reported too."
    ),
    max_tokens: int = typer.Option(24, "--max-tokens", help="Greedy answer length at most."),
    threads: int | None = ThreadsOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the probe as JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Memory probe: the greedy answer to a question (and the loss of the expected answer)
    with the session's fast weights and without them; the session is not changed."""
    from ttt.text.probe import probe_memory

    _set_threads(threads)
    with domain_errors():
        out = probe_memory(
            get_store(artifacts_root), session, question, expected, max_tokens=max_tokens
        )
    if as_json:
        print_json(out)
        return
    typer.echo(f"{session} ({out['model_id']}, {out['backend']}, {out['n_turns']} turns)")
    typer.echo(f"question: {out['question']}")
    if expected is not None:
        typer.echo(f"expected: {out['expected']!r} ({out['answer_tokens']} tokens scored)")
    for label, key in (("with fast weights", "with_fast_weights"),
                       ("without", "without_fast_weights")):  # fmt: skip
        r = out[key]
        loss = "" if r["loss"] is None else f"  loss {r['loss']:.4f}"
        recalled = "" if r["recalled"] is None else f"  recalled {'yes' if r['recalled'] else 'no'}"
        typer.echo(f"{label:>18}: {r['answer']!r}{loss}{recalled}")
    if out["loss_delta"] is not None:
        typer.echo(f"loss with − without: {out['loss_delta']:+.4f}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="chat")


__all__ = ["app", "register", "run_repl"]
