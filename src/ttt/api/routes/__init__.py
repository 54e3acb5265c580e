"""One router per resource; ``ROUTERS`` is the order they are included in."""

from ttt.api.routes import (
    anomalies,
    bases,
    benchmarks,
    chat,
    health,
    jobs,
    lineage,
    redteam,
    runs,
    sessions,
    sleep,
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
    chat.router,
    chat.flagged_router,
    sleep.router,
    jobs.router,
    anomalies.router,
    benchmarks.router,
]
