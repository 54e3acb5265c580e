"""``ttt serve``: the API and the built dashboard on one port (uvicorn).

ttt serve --artifacts-root artifacts                 # http://127.0.0.1:13579
ttt serve --host 0.0.0.0 --token "$(openssl rand -hex 16)" --allowed-host lab.example
"""

from __future__ import annotations

import gc
from pathlib import Path

import typer

from ttt.api.settings import ApiSettings, check_bind_security


def serve(
    artifacts_root: Path | None = typer.Option(
        None,
        "--artifacts-root",
        envvar="ARTIFACTS_ROOT",
        help="Artifact folder to serve (default ./artifacts; env ARTIFACTS_ROOT).",
        show_default=False,
    ),
    host: str = typer.Option(
        "127.0.0.1", help="Bind address. Anything but loopback requires --token."
    ),
    port: int = typer.Option(13579, help="Port."),
    token: str | None = typer.Option(
        None,
        envvar="TTT_API_TOKEN",
        help="Require 'Authorization: Bearer <token>' on every /api request (env TTT_API_TOKEN).",
        show_default=False,
    ),
    cors_origin: list[str] = typer.Option(
        [], "--cors-origin", help="Allow this browser origin (repeatable). Default: no CORS."
    ),
    allowed_host: list[str] = typer.Option(
        [],
        "--allowed-host",
        help="Also answer to this Host name ('name', 'name:port' or '*'; repeatable; env "
        "TTT_ALLOWED_HOSTS). Default: loopback names and the --host address only; any other "
        "Host gets 403 (a guard against DNS rebinding).",
    ),
    dashboard_dist: Path | None = typer.Option(
        None, help="Built dashboard folder (default: dashboard/dist of this checkout)."
    ),
    max_jobs: int = typer.Option(2, help="Jobs (worker processes) running at once."),
    corpus_dir: list[Path] = typer.Option(
        [],
        "--corpus-dir",
        help="Extra folder a training corpus may be read from, besides the artifact root "
        "(repeatable; env TTT_CORPUS_DIRS, comma-separated).",
    ),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the artifacts API and the dashboard."""
    import uvicorn

    from ttt.api.app import create_app

    values: dict[str, object] = {
        "host": host,
        "port": port,
        "token": token,
        "cors_origins": list(cor for cor in cors_origin if cor),
        "max_jobs": max_jobs,
    }
    if allowed_host:
        values["allowed_hosts"] = [h for h in allowed_host if h]
    if artifacts_root is not None:
        values["artifacts_root"] = artifacts_root
    if dashboard_dist is not None:
        values["dashboard_dist"] = dashboard_dist
    if corpus_dir:
        values["corpus_dirs"] = list(corpus_dir)
    try:
        settings = ApiSettings.model_validate(values)
        check_bind_security(settings)
        app = create_app(settings)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    # Everything imported so far lives as long as the server: move it out of the cyclic GC's
    # reach, so a full collection (tens of ms with torch loaded) cannot stall a request.
    gc.collect()
    gc.freeze()
    typer.echo(
        f"ttt serve: artifacts {Path(settings.artifacts_root).resolve()} on "
        f"http://{settings.host}:{settings.port}" + (" (token required)" if token else ""),
        err=True,
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level)


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to the ``ttt`` app."""
    app.command("serve")(serve)
