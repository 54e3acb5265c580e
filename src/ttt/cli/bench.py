"""``ttt bench``: reproducible benchmarks that print JSON."""

from __future__ import annotations

from pathlib import Path

import typer

from ttt.cli.common import ArtifactsRoot, console, domain_errors, get_store, print_json

app = typer.Typer(
    help="Benchmarks (JSON output, references measured in the same run).", no_args_is_help=True
)


@app.command("nano")
def bench_nano_cmd(
    sessions: int = typer.Option(32, help="Held-out sessions per setting."),
    steps: int = typer.Option(600, help="Steps per session."),
    base: str | None = typer.Option(
        None, "--base", help="Use this stored base (default: pretrain a fresh default base)."
    ),
    pretrain_seed: int = typer.Option(0, help="Seed of the base pretrained for the benchmark."),
    sweep_sessions: int = typer.Option(256, help="Sessions of the throughput sweep (0 = skip)."),
    offline: bool = typer.Option(
        True, "--offline/--no-offline", help="Compute the offline-best reference (slower)."
    ),
    quick: bool = typer.Option(False, "--quick", help="Tiny settings for smoke tests."),
    as_json: bool = typer.Option(False, "--json", help="Print only the JSON list."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Nano quality (gain vs frozen base) and speed per setting; see ttt.nano.bench."""
    from ttt.nano.base import load_base, pretrain_config_for
    from ttt.nano.bench import SETTINGS, bench_nano, bench_sweep_throughput
    from ttt.nano.pretrain import pretrain

    log = None if as_json else (lambda m: console.print(m))
    with domain_errors():
        if base is not None:
            params, mcfg, _ = load_base(get_store(artifacts_root), base)
        else:
            pcfg, mcfg = pretrain_config_for("tiny" if quick else "default", pretrain_seed)
            if log:
                log("pretraining a fresh base for the benchmark ...")
            params, mcfg, _ = pretrain(pcfg, mcfg)
        settings = SETTINGS[:2] if quick else SETTINGS
        rows = bench_nano(
            mcfg,
            params,
            sessions=4 if quick else sessions,
            steps=120 if quick else steps,
            settings=settings,
            offline=offline and not quick,
            single_sessions=1 if quick else 2,
            log=log,
        )
        if sweep_sessions > 0:
            rows.append(
                bench_sweep_throughput(
                    mcfg,
                    params,
                    sessions=8 if quick else sweep_sessions,
                    steps=120 if quick else steps,
                )
            )
    print_json(rows)


@app.command("poison")
def bench_poison_cmd(
    model: str | None = typer.Option(
        None, "--model", help="Stored text model (default: train a fresh demo model)."
    ),
    seeds: int = typer.Option(3, help="Streams (attack orders and benign documents) per defence."),
    first_seed: int = typer.Option(
        0, "--first-seed", help="Seed of the first stream (defaults were chosen on 100-102)."
    ),
    sets: list[str] | None = typer.Option(
        None, "--set", help="SentryConfig field=value for every defence (repeatable)."
    ),
    quick: bool = typer.Option(False, "--quick", help="Tiny model and one seed (smoke test)."),
    as_json: bool = typer.Option(False, "--json", help="Print only the JSON report."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Poisoning: implant, canary damage, benign adaptation, false blocks per defence."""
    import tempfile

    from ttt.cli.common import parse_kv
    from ttt.models.registry import load_model
    from ttt.models.train import train_model
    from ttt.store import ArtifactStore
    from ttt.text.poison import bench_poison
    from ttt.text.sentry import SentryConfig

    log = None if as_json else (lambda m: console.print(m))
    with domain_errors():
        base = SentryConfig.from_dict(parse_kv(sets, "--set"))
        if model is not None:
            store = get_store(artifacts_root)
            lm = load_model(store, model)
            report = bench_poison(
                lm, seeds=seeds, first_seed=first_seed, base=base, store=store, log=log
            )
        else:
            with tempfile.TemporaryDirectory(prefix="ttt-bench-poison-") as tmp:
                store = ArtifactStore(tmp)
                if log:
                    log("training a fresh model for the benchmark ...")
                res = train_model(store, preset="tiny" if quick else "demo", model_id="bench-lm")
                lm = load_model(store, res.model_id)
                report = bench_poison(
                    lm,
                    seeds=1 if quick else seeds,
                    first_seed=first_seed,
                    base=base,
                    store=store,
                    log=log,
                )
    print_json(report)
