"""The ``ttt`` command line: one entry point, one module per command group.

Run ``ttt --help`` (and ``ttt <group> --help``) for every command and option.
"""

from __future__ import annotations

import importlib

import typer

from ttt import __version__
from ttt.cli import bench, demo, lm, nano

app = typer.Typer(
    name="ttt",
    help="ttt_ssm_eval: run test-time-training models, watch every weight update, branch "
    "sessions, defend and attack updates.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ttt {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """ttt_ssm_eval command line."""


app.add_typer(nano.app, name="nano")
app.add_typer(bench.app, name="bench")
app.add_typer(lm.app, name="lm")
demo.register(app)

# Optional command groups provided by other layers register themselves if present.
_OPTIONAL = ("serve", "gate", "sentry", "redteam", "chat", "sleep", "anomalies")
for _mod in (f"ttt.cli.{name}" for name in _OPTIONAL):
    try:
        importlib.import_module(_mod).register(app)
    except ModuleNotFoundError as exc:  # pragma: no cover - only while a layer is absent
        if exc.name != _mod:
            raise


def main() -> None:  # pragma: no cover
    app()
