"""Shared CLI pieces: the artifact-root option, progress bars, error reporting."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ttt.store import ArtifactStore, StoreError

console = Console(stderr=True)

ArtifactsRoot = typer.Option(
    None,
    "--artifacts-root",
    envvar="ARTIFACTS_ROOT",
    help="Artifact folder (default ./artifacts; env ARTIFACTS_ROOT).",
    show_default=False,
)


def get_store(root: Path | None) -> ArtifactStore:
    return ArtifactStore(root)


def fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn domain and store errors into a one-line message and exit code 1/2."""
    try:
        yield
    except (StoreError, ValueError, KeyError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        raise fail(str(msg), 2 if isinstance(exc, ValueError) else 1) from exc


@contextmanager
def progress_bar(description: str, *, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar; yields ``update(done, total)``."""
    if not enabled:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as prog:
        task = prog.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        yield update


def print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


def parse_kv(items: list[str] | None, what: str) -> dict[str, Any]:
    """Parse ``key=value`` overrides; values are JSON when they parse, else strings."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"{what} override {item!r} must look like key=value")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out
