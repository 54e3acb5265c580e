"""``ttt sleep``: audit a model's chat memories and consolidate the approved ones offline.

ttt sleep --model lm-1
ttt sleep --model lm-1 --sessions s1,s2 --core-ratio 0.5 --method ewc --ewc-lambda 1 --steps 150
ttt sleep --model lm-1 --method replay --core-path notes/ --json
ttt sleep --model lm-1 --llm-url http://127.0.0.1:8000 --llm-model my-model   # key: TTT_LLM_API_KEY

Prints each memory's decision with its reasons and the before/after metrics (retention: core
held-out loss; acquisition: loss on the approved memories; the plain-replay baseline beside
EWC). The result is a ``sleep_candidate`` model: ``ttt lm promote ID`` makes it usable,
``ttt lm reject ID`` withdraws it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ttt.cli.common import (
    ArtifactsRoot,
    console,
    domain_errors,
    fail,
    get_store,
    parse_kv,
    print_json,
    progress_bar,
)


def sleep_cmd(
    model: str = typer.Option(
        ..., "--model", "-m", help="Text model whose sessions to consolidate."
    ),
    sessions: str | None = typer.Option(
        None,
        "--sessions",
        help="Comma-separated session ids (default: every session of the model).",
    ),
    core_path: str | None = typer.Option(
        None,
        "--core-path",
        help="Folder or file of core text mixed into every batch (default: the model's own "
        "stored train split).",
    ),
    core_ratio: float = typer.Option(
        0.5, "--core-ratio", help="Fraction of core examples per batch."
    ),
    method: str = typer.Option(
        "ewc", "--method", help="ewc (Fisher-weighted anchor to the parent) or replay (plain mix)."
    ),
    ewc_lambda: float = typer.Option(1.0, "--ewc-lambda", help="EWC penalty strength λ."),
    steps: int = typer.Option(150, "--steps", help="Consolidation steps."),
    lr: float = typer.Option(2e-3, "--lr", help="AdamW learning rate (backbone + LayerNorms)."),
    batch_size: int = typer.Option(16, "--batch-size", help="Examples per step."),
    seed: int = typer.Option(0, "--seed", help="Seed of the batches and the Fisher windows."),
    no_baseline: bool = typer.Option(
        False, "--no-baseline", help="With --method ewc, skip training the plain-replay baseline."
    ),
    llm_url: str | None = typer.Option(
        None,
        "--llm-url",
        help="OpenAI-compatible server for the optional LLM reviewer (key: env TTT_LLM_API_KEY).",
    ),
    llm_model: str = typer.Option("gpt-4o-mini", "--llm-model", help="Model name for --llm-url."),
    audit_set: list[str] | None = typer.Option(
        None,
        "--audit-set",
        help="AuditorConfig field=value (repeatable), e.g. semantic=false, "
        "llm_on_error=reject, reject_rolled_back=true.",
    ),
    candidate_id: str | None = typer.Option(None, "--id", help="Candidate model id."),
    residual: bool = typer.Option(
        False,
        "--residual",
        help="Imported (hf) models: keep the consolidated adapter as the next sessions' "
        "starting fast weights (adapter residual) instead of merging it into the core.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Harvest the model's chat traces, audit every memory, consolidate the approved ones
    into the backbone + LayerNorms (EWC or replay), and write a sleep candidate."""
    from ttt.safety.auditor import LlmReviewerError
    from ttt.safety.semantic import EmbedderUnavailableError
    from ttt.text.sleep import SleepConfig, run_sleep

    store = get_store(artifacts_root)
    with domain_errors():
        auditor: dict[str, Any] = parse_kv(audit_set, "--audit-set")
        if llm_url is not None:
            auditor.update(llm_url=llm_url, llm_model=llm_model)
        cfg = SleepConfig(
            sessions=[s.strip() for s in sessions.split(",") if s.strip()] if sessions else None,
            core_path=core_path,
            core_ratio=core_ratio,
            method=method,
            ewc_lambda=ewc_lambda,
            steps=steps,
            lr=lr,
            batch_size=batch_size,
            seed=seed,
            compare_replay=not no_baseline,
            auditor=auditor,
            candidate_id=candidate_id,
            residual=residual,
        )
        try:
            with progress_bar("sleep", enabled=not as_json) as update:
                result = run_sleep(store, model, cfg, progress=update)
        except (LlmReviewerError, EmbedderUnavailableError) as e:
            raise fail(str(e)) from e
    if as_json:
        print_json(result.manifest)
        return
    _report(result.manifest)


def _report(m: dict[str, Any]) -> None:
    table = Table(title=f"memories of {m['parent_model_id']}")
    for col in ("memory", "decision", "reasons", "prompt"):
        table.add_column(col, overflow="fold")
    for mem in m["memories"]:
        colour = "green" if mem["decision"] == "approved" else "red"
        table.add_row(
            mem["id"],
            f"[{colour}]{mem['decision']}[/]",
            "\n".join(mem["reasons"]) or "-",
            mem["text"][:80] + ("…" if len(mem["text"]) > 80 else ""),
        )
    console.print(table)
    c = m["counts"]
    typer.echo(
        f"{c['approved']} approved, {c['rejected']} rejected of {c['memories']} memories from "
        f"{len(m['sessions'])} session(s); {m['flagged_written']} added to flagged_prompts.json"
    )
    metrics = m["metrics"]
    rows = [(m["config"]["method"], metrics)]
    if "baseline_replay" in metrics:
        rows.append(("replay (baseline)", metrics["baseline_replay"]))
    t = Table(title="before → after")
    for col in ("method", "core loss", "Δ core", "session loss", "acquisition drop"):
        t.add_column(col, justify="right")
    for name, r in rows:
        t.add_row(
            name,
            f"{r['before']['core_loss']:.4f} → {r['after']['core_loss']:.4f}",
            f"{r['retention_change_pct']:+.2f}%",
            f"{r['before']['session_loss']:.4f} → {r['after']['session_loss']:.4f}",
            f"{r['acquisition_drop_pct']:.1f}%",
        )
    console.print(t)
    typer.echo(
        f"candidate {m['candidate_id']} (status sleep_candidate): `ttt lm promote "
        f"{m['candidate_id']}` to use it, `ttt lm reject {m['candidate_id']}` to withdraw it"
    )


def register(root: typer.Typer) -> None:
    """Add the ``sleep`` command to the ``ttt`` app."""
    root.command("sleep")(sleep_cmd)


__all__ = ["register", "sleep_cmd"]
