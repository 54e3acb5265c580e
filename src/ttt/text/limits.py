"""Rollback and OOD limits chosen from benign **tuning** writes (never from the writes they
are reported on).

A tuning run reads benign text under ``safety="all"`` with the five limits below opened wide
(``opened``), so every check runs and records its value and none fires. ``choose_limits``
then applies the rule fixed before any run: each limit is the largest value any benign tuning
write reached, times ``MARGIN`` (1.1), and never below its floor — so the chosen limits would
have refused none of the writes they were chosen from. A signal no tuning write produced (a
robust z needs four committed writes first) keeps the base config's limit. Used by ``ttt
bench poison --calibrate`` (document streams) and ``ttt bench jailbreak --calibrate`` (chat
writes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ttt.safety.gate import GateConfig
from ttt.text.sentry_config import SentryConfig

# What each limit judges, read from a write's event record.
SIGNALS = ("canary_delta", "canary_z", "grad_norm_z", "loss_z", "write_z")
# Limit (SentryConfig field, or "gate:<rule.field>") <- signal, and the smallest limit allowed.
LIMITS: dict[str, tuple[str, float]] = {
    "canary_max_delta": ("canary_delta", 0.005),
    "canary_z": ("canary_z", 1.0),
    "grad_z": ("grad_norm_z", 1.0),
    "gate:ood_heavy_write.loss_z_max": ("loss_z", 1.0),
    "gate:ood_heavy_write.grad_norm_z_max": ("write_z", 1.0),
}
MARGIN = 1.1
_OPEN = {"canary_max_delta": 100.0, "canary_z": 1e6, "grad_z": 1e6}
_OPEN_GATE = {"ood_heavy_write.loss_z_max": 1e6, "ood_heavy_write.grad_norm_z_max": 1e6}


def opened(base: SentryConfig) -> SentryConfig:
    """``base`` with every defence on and the five limits opened wide."""
    d = base.to_dict()
    d.update(_OPEN, safety="all", gate={**d["gate"], **_OPEN_GATE})
    return SentryConfig.from_dict(d)


def _current(base: SentryConfig, name: str) -> float:
    """The limit ``name`` as ``base`` sets it (gate limits: its overrides over the defaults)."""
    if not name.startswith("gate:"):
        return float(getattr(base, name))
    rule, field = name[len("gate:") :].split(".")
    return float(getattr(getattr(GateConfig().with_overrides(base.gate), rule), field))


def _check_value(checks: Sequence[Mapping[str, Any]], name: str) -> float | None:
    for c in checks:
        if c.get("name") == name:
            v = c.get("value")
            return float(v) if isinstance(v, (int, float)) else None
    return None


def signals_of(e: Mapping[str, Any]) -> dict[str, float | None]:
    """A write event's values of the five signals (None where a check did not run). The
    canary delta is the **worst** canary's rise, as the ``canary_delta`` check judges it."""
    return {
        "canary_delta": _check_value(e.get("checks") or [], "canary_delta"),
        "canary_z": e["canary"]["z"],
        "grad_norm_z": e["grad_norm_z"],
        "loss_z": e["loss_z"],
        "write_z": e["write_z"],
    }


def collect(events: Sequence[Mapping[str, Any]], into: dict[str, list[float]]) -> None:
    """Append the finite signal values of ``events`` to ``into`` (keys: ``SIGNALS``)."""
    for e in events:
        for key, v in signals_of(e).items():
            if v is not None and math.isfinite(v):
                into.setdefault(key, []).append(float(v))


def choose_limits(values: Mapping[str, Sequence[float]], base: SentryConfig) -> dict[str, Any]:
    """The module's rule on the benign values: ``limits`` by name, the SentryConfig
    ``overrides`` that set them over ``base``, and the largest benign value of each signal."""
    limits: dict[str, float] = {}
    kept: list[str] = []
    for name, (sig, floor) in LIMITS.items():
        vals = values.get(sig) or []
        if vals:
            limits[name] = max(floor, MARGIN * max(vals))
        else:
            limits[name] = _current(base, name)
            kept.append(name)
    gate = dict(base.gate)
    overrides: dict[str, Any] = {}
    for name, v in limits.items():
        if name.startswith("gate:"):
            gate[name[len("gate:") :]] = v
        else:
            overrides[name] = v
    overrides["gate"] = gate
    return {
        "rule": f"largest value on benign tuning writes x {MARGIN}, at least the floor",
        "limits": limits,
        "kept_from_base": kept,
        "overrides": overrides,
        "max_benign": {k: (max(values[k]) if values.get(k) else None) for k in SIGNALS},
    }
