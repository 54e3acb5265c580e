"""The FastAPI application: routers under /api, errors as JSON, the built dashboard at /.

app = create_app(ApiSettings(artifacts_root="artifacts"))
# or: ttt serve --artifacts-root artifacts
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from ttt import __version__
from ttt.api.cache import FileCache
from ttt.api.contract import install_openapi
from ttt.api.deps import ApiContext
from ttt.api.errors import install_error_handlers
from ttt.api.guard import HostOriginMiddleware, HostRules
from ttt.api.middleware import BodyLimitMiddleware, TokenAuthMiddleware
from ttt.api.routes import ROUTERS
from ttt.api.series import SeriesCache
from ttt.api.settings import ApiSettings, check_bind_security
from ttt.api.static import DashboardFiles
from ttt.jobs import JobManager
from ttt.store import ArtifactStore

DESCRIPTION = (
    "Artifacts API of ttt_ssm_eval: bases, sessions, runs, weights, sweeps and jobs of the "
    "Nano world, read from the artifact store. Long work runs as jobs; live data streams "
    "over Server-Sent Events. Errors are JSON {detail}."
)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the app. Raises ValueError for an unsafe configuration (see settings)."""
    settings = settings or ApiSettings.model_validate({})
    check_bind_security(settings)
    hosts = HostRules.build(settings.host, settings.allowed_hosts)
    store = ArtifactStore(settings.artifacts_root)
    jobs = JobManager(
        store.root, max_workers=settings.max_jobs, grace_s=settings.job_cancel_grace_s
    )
    ctx = ApiContext(
        settings=settings,
        store=store,
        jobs=jobs,
        series=SeriesCache(store.root),
        files=FileCache(capacity=512),
        big=FileCache(capacity=8),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs.start()
        try:
            yield
        finally:
            jobs.close(cancel_running=True)

    app = FastAPI(
        title="ttt_ssm_eval API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        swagger_ui_oauth2_redirect_url="/api/docs/oauth2-redirect",
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_openapi(app)
    # No route matched (and no other method of a matching path): the dashboard's files.
    app.router.default = DashboardFiles(settings.dashboard_dist)
    # Added innermost first: Host/Origin (outermost) -> CORS -> token -> body limit -> app.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    token = settings.token_value()
    if token is not None:
        app.add_middleware(TokenAuthMiddleware, token=token)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    app.add_middleware(HostOriginMiddleware, hosts=hosts, cors_origins=settings.cors_origins)
    return app
