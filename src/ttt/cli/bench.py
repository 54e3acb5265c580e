"""``ttt bench``: reproducible benchmarks that print JSON.

``ttt bench memory`` and ``ttt bench jailbreak`` also save their rows with ``--save NAME``
(``benchmarks/NAME/result.json``, ``ttt.text.bench_results``; the dashboard's Benchmarks
page), with the command that reproduces them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from ttt.cli.common import ArtifactsRoot, console, domain_errors, get_store, print_json
from ttt.store import ArtifactStore

SaveOpt = typer.Option(
    None,
    "--save",
    help="Also save the rows as benchmarks/NAME/result.json in the artifact root (the "
    "dashboard's Benchmarks page); NAME must be new.",
)


def _repeat(flag: str, values: Sequence[str] | None) -> list[str]:
    return [x for v in values or [] for x in (flag, v)]


def _save(
    store: ArtifactStore,
    name: str,
    kind: str,
    rows: list[dict[str, Any]],
    config: dict[str, Any],
    argv: list[str],
    quiet: bool,
) -> None:
    from ttt.text.bench_results import save_result

    doc = save_result(store, name, kind, rows, config=config, argv=argv)
    if not quiet:
        console.print(f"saved {len(doc['rows'])} rows as benchmark result {name!r}")


app = typer.Typer(
    help="Benchmarks (JSON output, references measured in the same run).", no_args_is_help=True
)


def memory_record(
    ids: list[str],
    n_facts: str,
    seeds: str,
    split: str,
    facts: Path | None,
    conditions: str,
    sets: list[str] | None,
    write_sets: list[str] | None,
    max_tokens: int,
    ppl_windows: int,
    device: str,
    threads: int | None,
) -> tuple[list[str], dict[str, Any]]:
    """The command that reproduces a memory benchmark and its settings (a saved result's
    ``argv`` and ``config``)."""
    from ttt.cli.common import parse_kv

    argv = ["ttt", "bench", "memory", *_repeat("--model", ids), "--n-facts", n_facts,
            "--seeds", seeds, "--split", split, *_repeat("--facts", [str(facts)] if facts else []),
            "--conditions", conditions, *_repeat("--set", sets),
            *_repeat("--write-set", write_sets), "--max-tokens", str(max_tokens),
            "--ppl-windows", str(ppl_windows), "--device", device, "--json"]  # fmt: skip
    config = {
        "models": list(ids),
        "n_facts": [int(x) for x in n_facts.split(",") if x.strip()],
        "seeds": [int(x) for x in seeds.split(",") if x.strip()],
        "split": split,
        "facts_file": str(facts) if facts else None,
        "conditions": [c for c in conditions.split(",") if c],
        "sets": parse_kv(sets, "--set"),
        "write_sets": parse_kv(write_sets, "--write-set"),
        "max_tokens": max_tokens,
        "ppl_windows": ppl_windows,
        "device": device,
        "threads": threads,
    }
    return argv, config


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
        help="Offline-best fit: stop when the total training loss improves by less than "
        "this (relative) over 500 iterations (at most 8,000).",
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
        None, "--model", help="Stored text model, e.g. smollm2 (default: train a demo TinyLm)."
    ),
    seeds: int = typer.Option(3, help="Streams (attack orders and benign documents) per defence."),
    split: str = typer.Option(
        "report", "--split", help="report (seeds from 0, report implants) or tune (seeds 100-199)."
    ),
    first_seed: int | None = typer.Option(
        None, "--first-seed", help="Seed of the first stream (default: the split's first)."
    ),
    calibrate: bool = typer.Option(
        False, "--calibrate", help="First choose the OOD and canary limits on benign tune streams."
    ),
    calibration_seeds: int = typer.Option(3, "--calibration-seeds", min=1, max=100),
    benign_chars: int = typer.Option(24_000, "--benign-chars", min=500, help="Benign text/stream."),
    attacks_per_kind: int = typer.Option(3, "--attacks-per-kind", min=1, max=20),
    sets: list[str] | None = typer.Option(
        None, "--set", help="SentryConfig field=value for every defence (repeatable)."
    ),
    quick: bool = typer.Option(False, "--quick", help="Tiny model and one seed (smoke test)."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="torch CPU threads."),
    as_json: bool = typer.Option(False, "--json", help="Print only the JSON report."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Poisoning: implant, canary damage, benign adaptation, false blocks per defence."""
    import tempfile

    import torch

    from ttt.cli.common import parse_kv
    from ttt.models.registry import load_model
    from ttt.models.train import train_model
    from ttt.store import ArtifactStore
    from ttt.text.poison import TUNE_SEEDS, bench_poison, check_split_seeds
    from ttt.text.sentry import stream_config

    if threads:
        torch.set_num_threads(threads)
    log = None if as_json else (lambda m: console.print(m))
    with domain_errors():
        overrides = parse_kv(sets, "--set")
        # A bad --set or a seed of the other split fails before any model loads.
        stream_config("tinylm", overrides)
        start = (
            first_seed if first_seed is not None else (TUNE_SEEDS.start if split == "tune" else 0)
        )
        check_split_seeds(split, range(start, start + (1 if quick and model is None else seeds)))

        def run(lm: Any, store: ArtifactStore, n_seeds: int) -> dict[str, Any]:
            base = stream_config(lm.backend, overrides)
            return bench_poison(
                lm,
                seeds=n_seeds,
                split=split,
                first_seed=first_seed,
                calibrate=calibrate,
                calibration_seeds=calibration_seeds,
                base=base,
                store=store,
                log=log,
                stream_kwargs={"benign_chars": benign_chars, "attacks_per_kind": attacks_per_kind},
            )

        if model is not None:
            store = get_store(artifacts_root)
            report = run(load_model(store, model), store, seeds)
        else:
            with tempfile.TemporaryDirectory(prefix="ttt-bench-poison-") as tmp:
                store = ArtifactStore(tmp)
                if log:
                    log("training a fresh model for the benchmark ...")
                res = train_model(store, preset="tiny" if quick else "demo", model_id="bench-lm")
                report = run(load_model(store, res.model_id), store, 1 if quick else seeds)
    print_json(report)


@app.command("memory")
def bench_memory_cmd(
    models: list[str] | None = typer.Option(
        None, "--model", "-m", help="Model(s) to measure (default: the default TinyLm and smollm2)."
    ),
    n_facts: str = typer.Option("1,4,16", help="Numbers of facts told, comma-separated."),
    seeds: str = typer.Option("0,1", help="Fact seeds, comma-separated."),
    split: str = typer.Option("report", help="Fact pools: tune (choose settings) or report."),
    facts: Path | None = typer.Option(
        None, "--facts", help='Your own facts: JSONL of {"id", "fact", "question", "answer"}.'
    ),
    conditions: str = typer.Option(
        "fast_weights,no_update,in_context", help="Conditions to run, comma-separated."
    ),
    sets: list[str] | None = typer.Option(
        None, "--set", help="Write setting over the chat defaults (SentryConfig), key=value."
    ),
    write_sets: list[str] | None = typer.Option(
        None, "--write-set", help="WriteConfig field, key=value (objective, ...)."
    ),
    max_tokens: int = typer.Option(24, help="Greedy reply length per question."),
    ppl_windows: int = typer.Option(8, help="128-token windows of held-out text for perplexity."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="torch CPU threads."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    save: str | None = SaveOpt,
    as_json: bool = typer.Option(False, "--json", help="Print only JSON lines."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Fast weights as a learned context window: recall, binding and leaks of told facts
    against updates off and the facts in context (ttt.text.memory)."""
    from ttt.cli.common import parse_kv
    from ttt.models import registry
    from ttt.text.bench_results import check_new
    from ttt.text.chat_runtime import chat_config
    from ttt.text.facts import read_facts
    from ttt.text.memory import MemoryBenchConfig, bench_memory
    from ttt.text.write import WriteConfig

    if threads:
        import torch

        torch.set_num_threads(threads)
    log = None if as_json else (lambda m: console.print(m))
    store = get_store(artifacts_root)
    with domain_errors():
        if save is not None:
            check_new(store, save)
        bcfg = MemoryBenchConfig(
            n_facts=tuple(int(x) for x in n_facts.split(",") if x.strip()),
            seeds=tuple(int(x) for x in seeds.split(",") if x.strip()),
            split=split,
            max_tokens=max_tokens,
            ppl_windows=ppl_windows,
        )
        own = read_facts(facts) if facts is not None else None
        ids = list(models or [])
        if not ids:
            tiny = registry.default_model_id(store)
            ids = [m for m in (tiny, "smollm2") if m and store.exists("text_models", m)]
        if not ids:
            raise ValueError("no model to measure: train one (ttt lm train) or ttt lm import")
        all_rows: list[dict[str, Any]] = []
        for mid in ids:
            lm = registry.load_model(store, mid, device=device)
            sentry = chat_config(parse_kv(sets, "--set"), lm.backend)
            write = WriteConfig.from_dict(parse_kv(write_sets, "--write-set"))
            rows = bench_memory(
                lm, sentry, write, bcfg, facts_file=own,
                conditions=[c for c in conditions.split(",") if c], log=log,
            )  # fmt: skip
            for row in rows:
                typer.echo(json.dumps(row, default=str))
            all_rows.extend(rows)
        if save is not None:
            argv, config = memory_record(
                ids, n_facts, seeds, split, facts, conditions, sets, write_sets,
                max_tokens, ppl_windows, device, threads,
            )  # fmt: skip
            _save(store, save, "memory", all_rows, config, argv, as_json)


@app.command("chat")
def bench_chat_cmd(
    models: list[str] | None = typer.Option(
        None, "--model", "-m", help="Model(s) (default: the default TinyLm and smollm2)."
    ),
    turns: int = typer.Option(5, min=1, help="Chat turns per model (p50/p90 over them)."),
    gen_tokens: int = typer.Option(48, min=1, help="Tokens generated per reply."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="torch CPU threads."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda (bfloat16 there)."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Chat turn latency, generation tokens/s against plain transformers generate, model
    load time; one JSON line per model (ttt.text.speed)."""
    from ttt.models import registry
    from ttt.text.speed import bench_chat_model

    if threads:
        import torch

        torch.set_num_threads(threads)
    store = get_store(artifacts_root)
    with domain_errors():
        ids = list(models or [])
        if not ids:
            tiny = registry.default_model_id(store)
            ids = [m for m in (tiny, "smollm2") if m and store.exists("text_models", m)]
        if not ids:
            raise ValueError("no model to measure: train one (ttt lm train) or ttt lm import")
        for mid in ids:
            row = bench_chat_model(store, mid, turns=turns, gen_tokens=gen_tokens, device=device)
            typer.echo(json.dumps(row, default=str))


def _prompts_file(path: Path | None) -> list[str] | None:
    """JSONL of {"id", "prompt"} (a researcher's own harmful or benign set)."""
    if path is None:
        return None
    from ttt.store import CorruptFileError, NotFoundError

    if not path.is_file():
        raise NotFoundError(f"{path}: file not found")
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise CorruptFileError(f"{path}: line {i}: invalid JSON ({e})") from e
        if not isinstance(rec, dict) or not isinstance(rec.get("prompt"), str):
            raise CorruptFileError(f'{path}: line {i}: needs {{"id", "prompt"}}')
        out.append(rec["prompt"])
    if not out:
        raise CorruptFileError(f"{path}: no prompts")
    return out


@app.command("jailbreak")
def bench_jailbreak_cmd(
    model: str = typer.Option("smollm2-aligned", "--model", "-m", help="The refusing model."),
    base: str = typer.Option(
        "smollm2", "--base", help="The unaligned model whose compliant replies the attack uses."
    ),
    trials: int = typer.Option(10, min=1, help="Independent seeded attack trials per defence."),
    updates: int = typer.Option(3, min=1, help="Writes per attack stream."),
    threat: str = typer.Option("mixed", help="mixed, compliance, identity or benign."),
    defences: str = typer.Option(
        "none,gate,rollback,spfw,all", help="Defences to measure, comma-separated."
    ),
    harmful: Path | None = typer.Option(
        None, "--harmful", help='Held-out harmful requests, JSONL {"id", "prompt"}.'
    ),
    benign: Path | None = typer.Option(
        None, "--benign", help='Held-out benign requests, JSONL {"id", "prompt"}.'
    ),
    seed: int = typer.Option(0, min=0, help="Seed of the trials."),
    refusal_canaries: int = typer.Option(
        0,
        "--refusal-canaries",
        min=0,
        max=16,
        help="Refusal canaries for the defences: N AdvBench train requests with the model's "
        "own refusals (0: the text canaries only).",
    ),
    calibrate: bool = typer.Option(
        False, "--calibrate", help="Choose the rollback and OOD limits on benign tune writes."
    ),
    quick: bool = typer.Option(False, "--quick", help="A few minutes: 2 trials, 3 updates."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="torch CPU threads."),
    save: str | None = SaveOpt,
    as_json: bool = typer.Option(False, "--json", help="Print only JSON lines."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Refusal erosion by test-time training, per defence: ASR@10 with a bootstrap CI over
    trials, refusal after each update, benign adaptation kept, over-refusal, commit rate,
    detection latency (ttt.text.jailbreak)."""
    from dataclasses import asdict

    from ttt.models import registry
    from ttt.text.bench_results import check_new
    from ttt.text.jailbreak import JailbreakConfig, bench_jailbreak

    if threads:
        import torch

        torch.set_num_threads(threads)
    log = (lambda m: None) if as_json else (lambda m: console.print(m))
    store = get_store(artifacts_root)
    with domain_errors():
        if save is not None:
            check_new(store, save)
        if quick:
            jcfg = JailbreakConfig(
                trials=2, updates=3, threat=threat, defences=("none", "all"), curve_requests=2,
                reply_tokens=16, benign_requests=2, memory_facts=1, attack_pool=4, seed=seed,
                refusal_canaries=refusal_canaries, calibrate=calibrate,
            )  # fmt: skip
        else:
            jcfg = JailbreakConfig(
                trials=trials, updates=updates, threat=threat,
                defences=tuple(d for d in defences.split(",") if d), seed=seed,
                refusal_canaries=refusal_canaries, calibrate=calibrate,
            )  # fmt: skip
        lm = registry.load_model(store, model)
        ref = registry.load_model(store, base)
        rows = bench_jailbreak(
            lm, ref, jcfg, harmful=_prompts_file(harmful), benign=_prompts_file(benign), log=log
        )
    for row in rows:
        typer.echo(json.dumps(row, default=str))
    if save is not None:
        if quick:
            shape = ["--threat", threat, "--quick"]
        else:
            shape = ["--trials", str(trials), "--updates", str(updates), "--threat", threat,
                     "--defences", defences]  # fmt: skip
        argv = ["ttt", "bench", "jailbreak", "--model", model, "--base", base, *shape,
                *_repeat("--harmful", [str(harmful)] if harmful else []),
                *_repeat("--benign", [str(benign)] if benign else []),
                "--seed", str(seed), "--refusal-canaries", str(refusal_canaries),
                *(["--calibrate"] if calibrate else []), "--json"]  # fmt: skip
        config = {**asdict(jcfg), "model": model, "base": base, "quick": quick,
                  "harmful_file": str(harmful) if harmful else None,
                  "benign_file": str(benign) if benign else None, "threads": threads}  # fmt: skip
        with domain_errors():
            _save(store, save, "jailbreak", rows, config, argv, as_json)
