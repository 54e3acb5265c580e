"""One router per resource; ``ROUTERS`` is the order they are included in."""

from ttt.api.routes import (
    bases,
    health,
    jobs,
    lineage,
    redteam,
    runs,
    sessions,
    sweeps,
    text_models,
    text_runs,
    weights,
)

ROUTERS = [
    health.router,
    bases.router,
    sessions.router,
    runs.router,
    weights.router,
    lineage.router,
    sweeps.router,
    text_models.router,
    text_runs.router,
    redteam.router,
    jobs.router,
]
