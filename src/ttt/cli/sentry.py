"""``ttt sentry``: stream a text through a trained model under the safety layer.

ttt sentry run --text "Some text to learn from ..."
ttt sentry run --file notes.txt --safety all --chunk-tokens 64 --json
cat notes.txt | ttt sentry run --objective mlm --set canary_max_delta=0.02
ttt sentry list
ttt sentry show RUN_ID
"""

from __future__ import annotations

import sys
from pathlib import Path
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
    help="Sentry monitor: one guarded fast-weight write per chunk of a text, every signal "
    "reported (loss, write pressure, canary, gate, rollback, SPFW).",
    no_args_is_help=True,
)


def _read_text(text: str | None, file: Path | None) -> tuple[str, str]:
    if text is not None and file is not None:
        raise ValueError("give either --text or --file, not both")
    if text is not None:
        return text, "text"
    if file is not None:
        data = file.read_bytes()
        try:
            return data.decode("utf-8"), "file"
        except UnicodeDecodeError as e:
            raise ValueError(
                f"{file}: not UTF-8 (byte offset {e.start}: {data[e.start : e.start + 1]!r})"
            ) from e
    if sys.stdin.isatty():
        raise ValueError("no input: give --text, --file, or pipe text on stdin")
    raw = sys.stdin.buffer.read()
    try:
        return raw.decode("utf-8"), "stdin"
    except UnicodeDecodeError as e:
        raise ValueError(f"stdin: not UTF-8 (byte offset {e.start})") from e


def _pick_model(store: Any, model: str | None, backbone: str | None) -> str | None:
    """``--backbone`` picks the newest usable model of that backbone when no id is given."""
    from ttt.models import registry
    from ttt.models.tinylm import BACKBONES

    if backbone is None:
        return model
    if backbone not in BACKBONES:
        raise ValueError(f"--backbone must be one of {BACKBONES}, got {backbone!r}")
    if model is not None:
        meta = registry.read_meta(store, model)
        if meta["model_cfg"].get("backbone", "ssm") != backbone:
            raise ValueError(
                f"model {model!r} has backbone {meta['model_cfg'].get('backbone')!r}, "
                f"not {backbone!r}"
            )
        return model
    for meta in reversed(registry.list_models(store)):  # newest first
        if registry.is_default_eligible(meta) and meta["model_cfg"].get("backbone") == backbone:
            return str(meta["model_id"])
    raise ValueError(f"no completed, promoted text model with backbone {backbone!r}")


@app.command("run")
def run_cmd(
    text: str | None = typer.Option(None, "--text", help="The text to stream."),
    file: Path | None = typer.Option(None, "--file", help="A UTF-8 file to stream."),
    model: str | None = typer.Option(None, "--model", help="Text model id (default: default)."),
    backbone: str | None = typer.Option(
        None, "--backbone", help="ssm|gru: use the newest usable model with this backbone."
    ),
    chunk_tokens: int = typer.Option(128, "--chunk-tokens", help="Tokens per chunk (per write)."),
    objective: str = typer.Option("ar", help="ar (next token) or mlm (masked tokens)."),
    safety: str = typer.Option("all", help="off | gate | rollback | spfw | all."),
    lr: float | None = typer.Option(
        None,
        help="Learning rate of the fast weights (default: the model's backend's stream default, "
        "0.02 for TinyLm, 0.002 for an imported HF model).",
    ),
    throttle: bool = typer.Option(
        False, "--throttle", help="A gate hit throttles the write instead of blocking it."
    ),
    gate_set: list[str] | None = typer.Option(
        None, "--gate-set", help="Gate threshold override rule.field=value (repeatable)."
    ),
    sets: list[str] | None = typer.Option(
        None,
        "--set",
        help="Any SentryConfig field=value, e.g. canary_max_delta=0.02, spfw_slack=0.001, "
        "canary_z=5, grad_z=8, steps_per_update=2 (repeatable).",
    ),
    keep_text: bool = typer.Option(
        False, "--keep-text", help="Store the raw text with the run (default: hash only)."
    ),
    run_id: str | None = typer.Option(None, "--id", help="Run id (default: generated)."),
    as_json: bool = typer.Option(False, "--json", help="Print summary and events as JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Stream a text through a model, one guarded write per chunk; store the run."""
    from ttt.models import registry
    from ttt.text.sentry import run_sentry, stream_config

    store = get_store(artifacts_root)
    with domain_errors():
        body, source = _read_text(text, file)
        cfg_dict: dict[str, Any] = {
            "chunk_tokens": chunk_tokens,
            "objective": objective,
            "safety": safety,
            **({} if lr is None else {"lr": lr}),
            "throttle": throttle,
            "gate": parse_kv(gate_set, "--gate-set"),
            **parse_kv(sets, "--set"),
        }
        stream_config("tinylm", cfg_dict)  # a bad field is an error before any model loads
        mid = registry.resolve_model_id(store, _pick_model(store, model, backbone))
        backend = registry.backend_of(registry.read_meta(store, mid))
        cfg = stream_config(backend, cfg_dict)
        with progress_bar("sentry", enabled=not as_json) as update:
            result = run_sentry(
                store,
                text=body,
                cfg=cfg,
                model_id=mid,
                run_id=run_id,
                keep_text=keep_text,
                source=source,
                progress=update,
            )
        events = result.events  # in memory: top tokens with their text even without --keep-text
    if as_json:
        print_json({"run_id": result.run_id, "summary": result.summary, "events": events})
        return
    _report(result.run_id, result.summary, events)


def _fmt(v: Any, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def _report(run_id: str, summary: dict[str, Any], events: list[dict[str, Any]]) -> None:
    table = Table(title=f"sentry run {run_id}", show_lines=False)
    for col in ("chunk", "loss", "grad", "grad z", "upd", "compr", "cos", "canary Δ", "status"):
        table.add_column(col, justify="right" if col not in ("status",) else "left")
    for e in events:
        table.add_row(
            str(e["chunk"]),
            _fmt(e["loss"]),
            _fmt(e["grad_norm"], ".3g"),
            _fmt(e["grad_norm_z"], ".1f"),
            _fmt(e["update_norm"], ".3g"),
            _fmt(e["compression_ratio"], ".2f"),
            _fmt(e["canary_cos"], ".2f"),
            _fmt(e["canary"]["delta"], "+.4f"),
            e["status"],
        )
    console.print(table)
    for e in events:
        if e["reasons"]:
            console.print(f"chunk {e['chunk']} [bold]{e['status']}[/]: " + "; ".join(e["reasons"]))
        top = ", ".join(repr(t.get("token", f"#{t['pos']}")) for t in e["top_tokens"][:5])
        console.print(f"chunk {e['chunk']} most influential tokens: {top}", style="dim")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summary["counts"].items()))
    typer.echo(
        f"{run_id}: {summary['n_chunks_done']} chunks ({counts}); loss "
        f"{_fmt(summary['loss_first'])} -> {_fmt(summary['loss_last'])}; canary "
        f"{_fmt(summary['canary_start'])} -> {_fmt(summary['canary_end'])}"
    )


@app.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Stored Sentry runs, newest first."""
    from ttt.text.sentry import list_runs

    runs = list_runs(get_store(artifacts_root))
    if as_json:
        print_json(runs)
        return
    table = Table(title="sentry runs")
    for col in ("run_id", "model", "safety", "objective", "status", "chunks", "counts"):
        table.add_column(col)
    for r in runs:
        table.add_row(
            r["run_id"],
            str(r.get("model_id", "-")),
            str(r.get("safety", "-")),
            str(r.get("objective", "-")),
            str(r.get("status", "-")),
            str(r.get("n_chunks_done", "-")),
            ", ".join(f"{k} {v}" for k, v in sorted((r.get("counts") or {}).items())),
        )
    console.print(table)


@app.command("show")
def show_cmd(
    run_id: str = typer.Argument(..., help="Run id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """One stored run: request, summary and per-chunk events."""
    from ttt.text.sentry import read_events, read_run

    store = get_store(artifacts_root)
    with domain_errors():
        run = read_run(store, run_id)
        events = read_events(store, run_id)
    if as_json:
        print_json({**run, "events": events})
        return
    _report(run_id, run["summary"], events)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="sentry")


__all__ = ["app", "register"]
