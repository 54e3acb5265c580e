"""ttt_ssm_eval: research infrastructure for safe test-time training (TTT).

Layers (imports flow downward only):
    cli, api -> domains (nano, text) -> engine, safety -> store, optim.
"""

__version__ = "0.1.0"
