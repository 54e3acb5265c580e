"""The update engine: one guarded transaction for every fast-weight write.

See ``ttt.engine.transaction`` for the flow and ``ttt.engine.checks`` for the checks.
"""

from ttt.engine.backends import BatchedMuonBackend, PlasticBackend, TorchOptimBackend
from ttt.engine.checks import (
    BLOCKED_GATE,
    CHECK_KINDS,
    COMMIT,
    ROLLBACK_CANARY,
    ROLLBACK_GRAD_NORM,
    ROLLBACK_LOSS_REGRESSION,
    ROLLBACK_STATE_NORM,
    STATUSES,
    CanaryDelta,
    Check,
    CheckOutcome,
    ChecksConfig,
    GradHistory,
    GradNormMax,
    GradNormMedianMultiple,
    GradNormRobustZ,
    LossRegression,
    StateNormMax,
)
from ttt.engine.transaction import (
    GateDecision,
    Projection,
    StepSizeControl,
    TransactionResult,
    UpdateEngine,
    UpdateEvent,
)

__all__ = [
    "BLOCKED_GATE",
    "CHECK_KINDS",
    "COMMIT",
    "ROLLBACK_CANARY",
    "ROLLBACK_GRAD_NORM",
    "ROLLBACK_LOSS_REGRESSION",
    "ROLLBACK_STATE_NORM",
    "STATUSES",
    "BatchedMuonBackend",
    "CanaryDelta",
    "Check",
    "CheckOutcome",
    "ChecksConfig",
    "GateDecision",
    "GradHistory",
    "GradNormMax",
    "GradNormMedianMultiple",
    "GradNormRobustZ",
    "LossRegression",
    "PlasticBackend",
    "Projection",
    "StateNormMax",
    "StepSizeControl",
    "TorchOptimBackend",
    "TransactionResult",
    "UpdateEngine",
    "UpdateEvent",
]
