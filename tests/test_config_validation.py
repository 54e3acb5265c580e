"""Every field of every registered config dataclass refuses out-of-range values.

``REGISTRY`` lists the config dataclasses (engine checks, step-size control, Muon, Nano
plasticity / canary / env / model / pretraining) with, for every field, values that must be
refused. The test also tries generic wrong values for each field's type (a string for a
number, NaN, 1e300, a bool for an int, ...). A field added to one of these classes without
an entry here fails ``test_registry_covers_every_field``; a field without validation fails
``test_out_of_range_values_are_refused``. To cover another module's configs, append entries
(the class, how to build it, its bad values per field).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from ttt.engine import (
    CanaryAlignmentMin,
    CanaryDelta,
    CanaryRobustZ,
    ChecksConfig,
    GradNormMax,
    GradNormMedianMultiple,
    GradNormRobustZ,
    LossRegression,
    StateNormMax,
    StepSizeControl,
)
from ttt.nano.config import NanoCanaryConfig, PlasticityConfig
from ttt.nano.env import EnvConfig
from ttt.nano.model import NanoSSMConfig
from ttt.nano.pretrain import PretrainConfig
from ttt.optim import MuonConfig


@dataclass
class Entry:
    cls: type
    bad: dict[str, list[Any]]  # field -> values that must raise ValueError
    build: Callable[[dict[str, Any]], Any] | None = None  # default: cls(**kwargs)
    base: dict[str, Any] = field(default_factory=dict)  # valid kwargs the bad value joins

    def make(self, **kw: Any) -> Any:
        kwargs = {**self.base, **kw}
        return self.build(kwargs) if self.build is not None else self.cls(**kwargs)


REGISTRY: list[Entry] = [
    Entry(GradNormMax, {"max_norm": [0, -1, 1e13]}),
    Entry(
        GradNormRobustZ,
        {
            "z_max": [0, -3, "abc", 1e7],
            "min_history": [0, 65, 10**9, 1e9, 2.5],
            "rel_floor": [-0.1, 11],
            "abs_floor": [0, -1e-9, 1e13],
        },
    ),
    Entry(GradNormMedianMultiple, {"k": [-1, 0, 0.5, 1e7], "min_history": [0, 65, 1e9]}),
    Entry(
        LossRegression,
        {"tol": [-5, -1, 101], "abs_tol": [-1, 1e13], "key": ["", 5, "x" * 201]},
    ),
    Entry(StateNormMax, {"max_abs": [0, -1, 1e13], "key": ["", 3]}),
    Entry(CanaryDelta, {"max_delta": [-1, 1e300, 1e7], "key": [""]}),
    Entry(
        CanaryRobustZ,
        {
            "z_max": [0, -1],
            "min_history": [0, 65],
            "rel_floor": [-1, 11],
            "abs_floor": [0, 1e13],
            "min_delta": [-1, 1e7],
            "key": [""],
        },
    ),
    Entry(CanaryAlignmentMin, {"min_cos": [1, 1.5, -1.1], "key": [""]}),
    Entry(
        ChecksConfig,
        {
            "pre": ["x", [{"kind": "nope"}], [{"kind": "loss_regression"}], [5], [{"k": 1}]],
            "post": [5, [{"kind": "grad_norm_max"}], [{"kind": "loss_regression", "tol": -5}]],
        },
        build=ChecksConfig.from_dict,
    ),
    Entry(
        StepSizeControl,
        {
            "lr": [0, -1, 1e9],
            "lr_min": [0, 1, -1],
            "lr_max": [1e-9, 11],
            "backoff": [0, 1.5, -1],
            "growth": [0.5, 11],
        },
    ),
    Entry(
        MuonConfig,
        {
            "lr": [-1, 11],
            "momentum": [1, -0.1],
            "nesterov": ["no", 1, 0],
            "ns_steps": [0, 100, 2.5],
            "weight_decay": [-1, 1],
        },
    ),
    Entry(
        PlasticityConfig,
        {
            "lr": [0, 1e9, -1],
            "lr_min": [0, 0.5],
            "lr_max": [1e-9, 11],
            "backoff": [0, 2],
            "growth": [0.9, 11],
            "momentum": [1, -0.5],
            "nesterov": ["no", 1],
            "ns_steps": [0, 100],
            "weight_decay": [-1, 1],
            "chunk": [1e9, 10**9, 1, 0, 16.0, "nan"],
            "holdout_every": [2.5, 1, 17, 0],
            "buffer_chunks": [0, 10**6, 1025],
            "steps_per_update": [1e9, 10**9, 0, 101],
            "stop_on_train_rise": ["yes", 1],
            "checks": [
                "abc",
                {"pre": [{"kind": "grad_norm_robust_z", "z_max": "abc"}]},
                {"post": [{"kind": "loss_regression", "key": "no_such_signal"}]},
                {"psot": []},
                {"post": [{"kind": "canary_delta"}]},  # the canary is off
            ],
            "canary": ["abc", {"n": 0}, {"bogus": 1}, {"seed": 10**20}],
            "spfw": ["abc", {"mode": "halfspace"}],  # needs the canary
        },
    ),
    Entry(
        NanoCanaryConfig,
        {
            "n": [0, 17, 2.0],
            "steps": [1, 10**6],
            "mu": [0, 1, -0.1],
            "env_mode": ["sideways", 3],
            "seed": [-1, 2**40, 1e20],
            "grad_alignment": ["yes", 1],
        },
    ),
    Entry(
        EnvConfig,
        {
            "mode": ["sideways", ""],
            "mu": [0, 1, -0.5],
            "obs_noise_std": [-0.1, 11],
            "process_noise_std": [-0.1, 11],
            "policy": ["random"],
            "action_hold": [0.5, 1e7],
            "coast_prob": [-0.1, 1.1],
            "brake_prob": [-0.1, 1.1],
            "target_speed": [-1, 1e4],
            "track_gain": [-0.1, 1.1],
            "max_accel": [0, -1, 1e4],
            "action_std": [-1, 11],
            "schedule": ["sometimes"],
            "drift_rate": [2, -2],
            "jump_step": [-1, 2.5, 10**13],
            "jump_to": [0, 1, 1.5],
        },
    ),
    Entry(
        NanoSSMConfig,
        {
            "obs_dim": [3, 5],
            "act_dim": [1, 3],
            "u_dim": [0, 10**5],
            "n_state": [0, 10**5],
            "speed_min": [0, -1],
            "speed_max": [0, 1e7],
            "n_bands": [0, 257],
            "vel_scale": [0, -2],
            "act_scale": [0, -2],
            "out_scale": [0, -2],
            "action_skip": ["no", 1],
            "decay_min": [0, 1, 0.95],  # 0.95 > decay_max
            "decay_max": [0, 1, 0.01],  # 0.01 < decay_min
            "init_scale": [0, -1],
        },
    ),
    Entry(
        PretrainConfig,
        {
            "seed": [-1, 2**40],
            "steps": [0, 10**9],
            "batch_sessions": [0, 10**6],
            "seq_len": [0, 320],  # must be < pool_steps
            "pool_sessions": [0, 10**7],
            "pool_steps": [1, 10**7],
            "lr": [0, -1, 11],
            "lr_decay": [0, 11],
            "momentum": [1, -0.1],
            "warmup_steps": [-1, 10**8],
            "mu_range": [(0.2, 0.1), (0, 0.1), (0.1, 1.0), (0.1,), "ab"],
            "env_modes": [(), ("sideways",), "linear"],
            "obs_noise_levels": [(), (-0.1,), (11,)],
            "log_every": [0, 10**9],
            "gauge": [(1.0, 1.0), (0.0, 1.0, 1.0), "abc"],
        },
    ),
]


def _is_optional(tp: Any) -> bool:
    return isinstance(tp, types.UnionType) and type(None) in typing.get_args(tp)


def _generic_bad(tp: Any) -> list[Any]:
    """Values wrong for a field of type ``tp`` whatever its range."""
    optional = _is_optional(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)] if optional else [tp]
    base = typing.get_origin(args[0]) or args[0]
    out: list[Any] = [] if optional else [None]
    if base is bool:
        out += ["no", 1, 0.0]
    elif base is int:
        out += ["abc", True, 1.5, math.nan, 10**30, -(10**30)]
    elif base is float:
        out += ["abc", True, math.nan, math.inf, -math.inf, 1e300, -1e300]
    elif base is str:
        out += [123, 1.5, ""]
    elif base in (dict, Mapping):
        out += ["abc", 5, [1]]
    elif base in (list, tuple):
        out += ["abc", 5]
    return out


def _cases() -> list[tuple[str, Entry, str, Any]]:
    out = []
    for e in REGISTRY:
        hints = typing.get_type_hints(e.cls)
        for f in dataclasses.fields(e.cls):
            values = list(e.bad.get(f.name, []))
            if e.build is None:
                values += _generic_bad(hints[f.name])
            for v in values:
                out.append((f"{e.cls.__name__}.{f.name}={v!r}"[:80], e, f.name, v))
    return out


def test_registry_covers_every_field():
    for e in REGISTRY:
        names = {f.name for f in dataclasses.fields(e.cls)}
        missing = sorted(n for n in names if not e.bad.get(n))
        assert not missing, f"{e.cls.__name__}: no out-of-range values listed for {missing}"
        assert set(e.bad) <= names, f"{e.cls.__name__}: unknown fields {set(e.bad) - names}"
        e.make()  # the defaults themselves are valid


CASES = _cases()


@pytest.mark.parametrize(
    ("entry", "name", "value"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_out_of_range_values_are_refused(entry: Entry, name: str, value: Any):
    with pytest.raises(ValueError) as info:
        entry.make(**{name: value})
    msg = str(info.value)
    # The message names the field and shows the value (nested configs name the inner field).
    shown = repr(value) if not isinstance(value, Mapping | list | tuple) else None
    assert name in msg or (
        isinstance(value, Mapping | list) and any(str(k) in msg for k in _keys(value))
    ), msg
    if shown is not None and not isinstance(value, str):
        assert shown in msg or str(value) in msg, msg


def _keys(v: Any) -> list[str]:
    if isinstance(v, Mapping):
        return [str(k) for k in v] + [x for val in v.values() for x in _keys(val)]
    if isinstance(v, list):
        return [x for item in v for x in _keys(item)]
    return [str(v)]
