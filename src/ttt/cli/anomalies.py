"""``ttt anomalies``: score every update log for unusual writes and review them.

    ttt anomalies scan [--kinds nano,sentry,chat] [--method robust_z|iforest] [--top 100] [--json]
    ttt anomalies list [--state open] [--json]
    ttt anomalies review ID reviewed|dismissed|flagged [--note "why"]

``scan`` writes ``<artifacts>/anomalies.json`` (the Review page reads it); ``review`` records a
decision in ``anomaly_review.json``; ``flagged`` also makes the attempt's text a red-team
seed (``flagged_prompts.json``).
"""

from __future__ import annotations

from pathlib import Path

import typer

from ttt.cli.common import ArtifactsRoot, console, domain_errors, fail, get_store, print_json

app = typer.Typer(
    help="Anomaly detection over update logs, with a review queue.", no_args_is_help=True
)


def _kinds(raw: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in raw.split(",") if k.strip())


@app.command("scan")
def scan_cmd(
    kinds: str = typer.Option(
        "nano,sentry,chat", "--kinds", help="Domains to scan, comma-separated."
    ),
    method: str = typer.Option("robust_z", "--method", help="robust_z (default) or iforest."),
    top: int = typer.Option(100, "--top", min=1, help="Findings kept, highest score first."),
    explain_z: float = typer.Option(
        3.0, "--explain-z", help="Name a signal in 'why' at this robust z."
    ),
    burst_window: int = typer.Option(
        8, "--burst-window", min=1, help="Attempts in a rollback burst."
    ),
    seed: int = typer.Option(0, "--seed", help="IsolationForest seed."),
    as_json: bool = typer.Option(False, "--json", help="Print the scan as JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Score every update attempt within its model/session family; write anomalies.json."""
    from ttt.review import scan
    from ttt.safety.anomaly import AnomalyConfig

    store = get_store(artifacts_root)
    with domain_errors():
        cfg = AnomalyConfig(
            method=method, top=top, explain_z=explain_z, burst_window=burst_window, seed=seed
        )
        doc = scan(store, cfg, _kinds(kinds))
    if as_json:
        print_json({k: v for k, v in doc.items() if k != "texts"})
        return
    console.print(
        f"scanned {doc['records']} update attempts in {len(doc['families'])} families "
        f"({doc['seconds']:.2f} s); top {min(10, len(doc['findings']))} of {len(doc['findings'])}:"
    )
    for f in doc["findings"][:10]:
        why = f["why"][0] if f["why"] else "nothing above the explain threshold"
        typer.echo(f"{f['rank']:>3}  {f['score']:7.2f}  {f['id']}  {f['key']}  {why}")


@app.command("list")
def list_cmd(
    state: str | None = typer.Option(None, "--state", help="open, reviewed, dismissed or flagged."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """The last scan's findings with their review state."""
    from ttt.review import review_queue

    store = get_store(artifacts_root)
    with domain_errors():
        doc = review_queue(store)
    if doc is None:
        raise fail("no anomaly scan yet: run `ttt anomalies scan` first")
    items = [f for f in doc["findings"] if state is None or f["review"]["state"] == state]
    if as_json:
        print_json(items)
        return
    for f in items:
        typer.echo(
            f"{f['rank']:>3}  {f['score']:7.2f}  {f['review']['state']:<9}  {f['id']}  {f['key']}"
        )


@app.command("review")
def review_cmd(
    finding: str = typer.Argument(..., help="Finding id (or key) from `ttt anomalies list`."),
    state: str = typer.Argument(..., help="reviewed, dismissed, flagged or open."),
    note: str | None = typer.Option(None, "--note", help="Why (kept with the decision)."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Record a decision; 'flagged' also makes the attempt's text a red-team seed."""
    from ttt.review import set_review

    store = get_store(artifacts_root)
    with domain_errors():
        f = set_review(store, finding, state, note)
    typer.echo(f"{f['id']} {f['key']}: {f['review']['state']}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="anomalies")
