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
    sessions: int = typer.Option(32, help="Held-out sessions per setting and seed set."),
    steps: int = typer.Option(600, help="Steps per session."),
    seeds: str = typer.Option(
        "tuning,report",
        help="Seed sets, comma-separated: tuning (defaults were chosen on these), report.",
    ),
    base: str | None = typer.Option(
        None, "--base", help="Use this stored base (default: pretrain a fresh default base)."
    ),
    pretrain_seed: int = typer.Option(0, help="Seed of the base pretrained for the benchmark."),
    sweep_sessions: int = typer.Option(256, help="Sessions of the throughput sweep (0 = skip)."),
    sample: int = typer.Option(
        32, help="Sessions of the sweep also run one by one (the measured reference)."
    ),
    offline: bool = typer.Option(
        True, "--offline/--no-offline", help="Fit the offline-best reference (slower)."
    ),
    offline_tol: float = typer.Option(
        1e-3,
        help="Offline-best fit: stop when the relative loss change per 100 iterations is "
        "below this at the smallest step size.",
    ),
    offline_cache: Path | None = typer.Option(
        None,
        "--offline-cache",
        help="JSON file keeping offline-best fits between runs (keyed by base weights, "
        "sessions and tolerance; the fits do not depend on the plasticity config).",
    ),
    set_: list[str] | None = typer.Option(
        None, "--set", help="Plasticity override key=value for every session (repeatable)."
    ),
    threads: int = typer.Option(1, "--threads", help="CPU threads for torch (all parts)."),
    quick: bool = typer.Option(False, "--quick", help="Tiny settings for smoke tests."),
    as_json: bool = typer.Option(False, "--json", help="Print only the JSON list."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Nano quality (gain, adaptive/offline-best, commit rate, rollbacks by check) on tuning
    and report seeds, and sweep throughput against sessions run one by one; see
    ttt.nano.bench."""
    import torch

    from ttt.cli.common import parse_kv
    from ttt.nano.base import load_base, pretrain_config_for
    from ttt.nano.bench import SEED_BASES, SETTINGS, bench_nano, bench_sweep_throughput
    from ttt.nano.config import PlasticityConfig, apply_overrides
    from ttt.nano.pretrain import pretrain

    log = None if as_json else (lambda m: console.print(m, markup=False, highlight=False))
    with domain_errors():
        if threads < 1:
            raise ValueError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
        seed_sets = [x.strip() for x in seeds.split(",") if x.strip()]
        bad = [x for x in seed_sets if x not in SEED_BASES]
        if bad or not seed_sets:
            raise ValueError(f"--seeds must name tuning and/or report, got {seeds!r}")
        pcfg = PlasticityConfig.from_dict(
            apply_overrides(PlasticityConfig().to_dict(), parse_kv(set_, "--set"))
        )
        if base is not None:
            params, mcfg, _ = load_base(get_store(artifacts_root), base)
        else:
            pre, mcfg = pretrain_config_for("tiny" if quick else "default", pretrain_seed)
            if log:
                log("pretraining a fresh base for the benchmark ...")
            params, mcfg, _ = pretrain(pre, mcfg)
        rows = bench_nano(
            mcfg,
            params,
            sessions=4 if quick else sessions,
            steps=120 if quick else steps,
            settings=SETTINGS[:2] if quick else SETTINGS,
            seed_sets=seed_sets,
            pcfg=pcfg,
            single_sessions=1 if quick else 2,
            offline=offline and not quick,
            offline_tol=offline_tol,
            offline_cache=offline_cache,
            log=log,
        )
        if sweep_sessions > 0:
            rows.append(
                bench_sweep_throughput(
                    mcfg,
                    params,
                    sessions=8 if quick else sweep_sessions,
                    steps=120 if quick else steps,
                    sample=2 if quick else sample,
                    pcfg=pcfg,
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
    from ttt.store import ArtifactStore
    from ttt.text.poison import bench_poison
    from ttt.text.registry import load_model
    from ttt.text.sentry import SentryConfig
    from ttt.text.train import train_model

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
