"""Route dependencies as ``Annotated`` aliases: the context, the store, validated ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from ttt.api.cache import FileCache
from ttt.api.series import SeriesCache
from ttt.api.settings import ApiSettings
from ttt.jobs import JobManager
from ttt.store import ArtifactStore, validate_id


@dataclass
class ApiContext:
    """Everything a request may use; one per app (``app.state.ctx``)."""

    settings: ApiSettings
    store: ArtifactStore
    jobs: JobManager
    series: SeriesCache
    files: FileCache  # small parsed files (run.json, ...)
    big: FileCache  # large parsed files (event lists, trajectories, weight statistics)


def get_ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def get_store(ctx: Annotated[ApiContext, Depends(get_ctx)]) -> ArtifactStore:
    return ctx.store


def get_jobs(ctx: Annotated[ApiContext, Depends(get_ctx)]) -> JobManager:
    return ctx.jobs


def _session_id(session_id: Annotated[str, Path(description="Session id.")]) -> str:
    return validate_id(session_id, what="session id")


def _run_id(run_id: Annotated[str, Path(description="Run id.")]) -> str:
    return validate_id(run_id, what="run id")


Ctx = Annotated[ApiContext, Depends(get_ctx)]
Store = Annotated[ArtifactStore, Depends(get_store)]
Jobs = Annotated[JobManager, Depends(get_jobs)]
SessionId = Annotated[str, Depends(_session_id)]
RunId = Annotated[str, Depends(_run_id)]
