"""Red team: seeded searches for payloads that pass the gate and still damage the model.

The attack runs against the exact stored model and the exact Sentry defence configuration
being validated (``Target``): a black-box evolutionary search over strings (``search``,
``mutations``) and a gradient-guided token search on the real TinyLm (``gradient``). Runs are
stored under ``artifacts/redteam/<run_id>/`` (``runs``) with the attack success rate, its
Wilson 95% interval, queries to first success, the best payloads and the defences that
stopped the failures (``stats``).

    from ttt.redteam import RedTeamConfig, run_redteam
    result = run_redteam(store, RedTeamConfig(method="evolution", goal="canary", budget=200,
                                              sentry={"safety": "all"}), model_id="m1")
    ttt redteam run --model m1 --method gradient --goal implant --budget 100 --safety all
"""

from ttt.redteam.config import DEFAULT_IMPLANT, GOALS, METHODS, RedTeamConfig
from ttt.redteam.runs import (
    RedTeamResult,
    list_runs,
    read_attempts,
    read_iterations,
    read_run,
    redteam_job,
    run_redteam,
)
from ttt.redteam.stats import wilson_interval
from ttt.redteam.target import Target, Verdict

__all__ = [
    "DEFAULT_IMPLANT",
    "GOALS",
    "METHODS",
    "RedTeamConfig",
    "RedTeamResult",
    "Target",
    "Verdict",
    "list_runs",
    "read_attempts",
    "read_iterations",
    "read_run",
    "redteam_job",
    "run_redteam",
    "wilson_interval",
]
