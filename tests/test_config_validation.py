"""Every field of every registered config dataclass refuses out-of-range values.

``REGISTRY`` lists the config dataclasses (engine checks, step-size control, Muon, Nano
plasticity / canary / env / model / pretraining; the text domain's Sentry, generation,
write, LoRA, alignment, sleep, memory-benchmark, TinyLm training / shapes and gate
configs) with, for every field, values that must be
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
from ttt.models.align import AlignConfig
from ttt.models.hf import LoraSettings
from ttt.models.tinylm import TinyLmConfig
from ttt.models.train import TrainConfig
from ttt.nano.config import NanoCanaryConfig, PlasticityConfig
from ttt.nano.env import EnvConfig
from ttt.nano.model import NanoSSMConfig
from ttt.nano.pretrain import PretrainConfig
from ttt.optim import MuonConfig
from ttt.safety.gate_config import (
    EncodedBlobConfig,
    GateConfig,
    InjectionScorerConfig,
    InstructionOverrideConfig,
    InvisibleCharsConfig,
    LongRunConfig,
    OodHeavyWriteConfig,
    RepeatedStatementConfig,
    RepetitionFloodConfig,
    SemanticConfig,
    TokenEntropyConfig,
)
from ttt.text.chat_runtime import GenerationConfig
from ttt.text.memory import MemoryBenchConfig
from ttt.text.sentry_config import SentryConfig
from ttt.text.sleep import SleepConfig
from ttt.text.write import WriteConfig


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
    # ---------------------------------------------------------------- text domain
    Entry(
        SentryConfig,
        {
            "chunk_tokens": [1, 4097, 2.0],
            "objective": ["xx", "AR"],
            "safety": ["none", "ALL"],
            "lr": [0, -1, 11, 1e9],
            "steps_per_update": [0, 101, 10**9, 2.0],
            "optimizer": ["sgd"],
            "mlm_mask_prob": [0, 1, -0.1],
            "seed": [-1, 2**32, 2**63, 1e20],
            "gate": [{"nope.x": 1}, {"token_entropy.min_ratio": 2}, {"long_run.max_chars": 1e300}],
            "throttle": ["yes", 1],
            "throttle_factor": [0, 1e-7, 1.5],
            "canary_max_delta": [0, -1, 101, 1e7, 1e300],
            "canary_z": [0, -1, 1e7],
            "grad_z": [0, -1, 1e7],
            "spfw_mode": ["both"],
            "spfw_slack": [-1, 101],
            "canaries": [[], [5], [""], ["x"] * 17, ("a",)],
            "refusal_canaries": [
                "x",
                [{"prompt": "a"}],
                [{"prompt": "a", "reply": " "}],
                [{"prompt": "a", "reply": "b", "extra": 1}],
                [{"prompt": "a", "reply": "b"}] * 17,
            ],
            "influence_top_k": [0, 4097],
        },
    ),
    Entry(
        GenerationConfig,
        {"max_tokens": [-1, 4097], "temperature": [-0.1, 101], "top_k": [0, 10**6 + 1]},
    ),
    Entry(
        WriteConfig,
        {
            "objective": ["ar", "QA"],
            "qa_templates": [[], ["no key"], ["{key} {key}"], ["x" * 300 + "{key}"], [5]],
            "max_keys": [0, 17],
            "anchors": [-1, 33],
            "anchor_tokens": [0, 129],
        },
    ),
    Entry(
        LoraSettings,
        {
            "rank": [0, 257],
            "alpha": [0, -1, 1e5],
            "targets": [(), ("q_proj", "q_proj"), ("nope",), [5]],
            "layers": ["top:0", "top:", "top:5000", "some", (), (-1,), (True,), (5000,), 3],
            "seed": [-1, 2**32, 2**63],
            "context_tokens": [-1, 4097],
        },
    ),
    Entry(
        AlignConfig,
        {
            "rank": [0, 257],
            "alpha": [0, -1, 1e5],
            "targets": [[], ["nope"], ["q_proj", "q_proj"], [5]],
            "steps": [0, 100_001],
            "batch_size": [0, 4097],
            "lr": [0, -1, 1.5],
            "seed": [-1, 2**32],
            "n_benign": [-1, 100_001],
            "reply_tokens": [0, 513],
            "eval_tokens": [0, 513],
            "eval_harmful": [0, -1, 100_001],
            "eval_benign": [0, -1, 100_001],
        },
    ),
    Entry(
        SleepConfig,
        {
            "sessions": [[], ["a", "a"], ["../x"], [5]],
            "core_path": [" ", "x" * 5000],
            "core_ratio": [-0.1, 1],
            "method": ["sgd"],
            "ewc_lambda": [-1, 1e7],
            "steps": [0, 10**6],
            "lr": [0, 1, -1],
            "batch_size": [0, 1, 4097],  # 1: core_ratio > 0 needs a session example too
            "seq_len": [1, 10**6],
            "fisher_windows": [0, 10**6],
            "eval_windows": [0, 10**6],
            "grad_clip": [-1, 1e7],
            "seed": [-1, 2**32],
            "compare_replay": ["yes", 1],
            "auditor": [{"bogus": 1}, {"ood": "yes"}],
            "candidate_id": ["../x", "a b"],
            "device": ["gpu", "cuda:x"],
            "residual": ["yes", 1],
        },
    ),
    Entry(
        MemoryBenchConfig,
        {
            "n_facts": [(), (0,), (65,), (1.5,), (True,), ("1",)],
            "seeds": [(), (-1,), (2**32,), (0.5,), ("0",)],
            "split": ["train", "Report"],
            "distractors_between": [-1, 9],
            "max_tokens": [0, 257],
            "ppl_windows": [0, 257],
        },
    ),
    Entry(
        TrainConfig,
        {
            "steps": [0, 10**8],
            "batch_size": [0, 4097],
            "seq_len": [0, 10**6],
            "lr": [0, -1, 11],
            "adam_lr": [0, -1, 11],
            "weight_decay": [-1, 11],
            "warmup_steps": [-1, 10**8],
            "decay": ["step"],
            "min_lr_frac": [-0.1, 1.1],
            "grad_clip": [-1, 1e7],
            "seed": [-1, 2**32],
            "vocab_size": [0, 259, 10**7],  # 259: fewer than the 256 bytes + 4 specials
            "val_fraction": [0, 1, -0.5],
            "eval_every": [0, 10**9],
            "eval_windows": [0, 10**6],
            "log_every": [0, 10**9],
            "checkpoint_every": [0, 10**9],
            "tokenizer_sample_chars": [0, 10**13],
        },
    ),
    Entry(
        TinyLmConfig,
        {
            "vocab_size": [0, 10**7],
            "d_model": [0, 10**6],
            "n_layers": [0, 1025],
            "backbone": ["lstm"],
            "ssm_expand": [0, 65],
            "mlp_mult": [-1, 65],
            "dt_min": [0, -1, 1.0],  # 1.0 > dt_max
            "dt_max": [0, 1e-4, 101],  # 1e-4 < dt_min
            "context_rank": [0, 257],  # 257 > d_model
        },
    ),
    Entry(
        TokenEntropyConfig,
        {"enabled": ["yes", 1], "min_ratio": [-0.1, 1.1], "min_tokens": [1, 10**6 + 1]},
    ),
    Entry(
        RepetitionFloodConfig,
        {
            "enabled": ["yes", 1],
            "max_repeat": [-0.1, 1.1],
            "ngram": [0, 17],
            "min_tokens": [1, 10**6 + 1],
        },
    ),
    Entry(
        RepeatedStatementConfig,
        {"enabled": ["yes"], "max_repeats": [0, 10**6 + 1], "min_words": [0, 1001]},
    ),
    Entry(
        EncodedBlobConfig,
        {
            "enabled": ["yes"],
            "max_fraction": [-0.1, 1.1],
            "min_base64_chars": [3, 10**6 + 1],
            "min_hex_chars": [3, 10**6 + 1],
            "opaque_min_chars": [0, 10**6 + 1],
            "rescan": ["yes", 1],
            "max_depth": [-1, 9],
            "views": ["yes", 1],
        },
    ),
    Entry(LongRunConfig, {"enabled": ["yes"], "max_chars": [0, 10**6 + 1]}),
    Entry(
        InvisibleCharsConfig,
        {
            "enabled": ["yes"],
            "max_score": [-1, 1e7],
            "strong_weight": [-1, 0, 1e7],
            "weak_weight": [-1, 1e7],
            "rescan": ["yes", 1],
        },
    ),
    Entry(
        InstructionOverrideConfig,
        {
            "enabled": ["yes"],
            "max_matches": [-1, 10**6 + 1],
            "tail_chars": [-1, 10**5 + 1],
            "quoted_exempt": ["yes", 1],
        },
    ),
    Entry(
        InjectionScorerConfig,
        {
            "enabled": ["yes"],
            "threshold": [-0.1, 1.1],
            "window_chars": [49, 10**6 + 1],
            "rescan_min_tokens": [-1, 10**6 + 1],
            "context_chars": [-1, 10**6 + 1, 1.5],
        },
    ),
    Entry(
        SemanticConfig,
        {
            "enabled": ["yes"],
            "threshold": [-0.1, 1.1],
            "band_low": [-0.1, 1.1],
            "max_windows": [0, 65, 1.5, True],
        },
    ),
    Entry(
        OodHeavyWriteConfig,
        {"enabled": ["yes"], "loss_z_max": [0, -1, 1e7], "grad_norm_z_max": [0, -1, 1e7]},
    ),
    Entry(
        GateConfig,
        {
            "token_entropy": ["abc", {"min_ratio": 2}, {"min_tokens": 2.5}, {"nope": 1}],
            "repetition_flood": [{"max_repeat": "abc"}, {"ngram": 0}],
            "repeated_statement": [{"max_repeats": 0}],
            "encoded_blob": [{"max_depth": 9}, {"rescan": 1}],
            "long_run": [{"max_chars": 1e300}, {"enabled": "no"}],
            "invisible_chars": [{"max_score": math.inf}],
            "instruction_override": [{"max_matches": -1}],
            "injection_scorer": [{"threshold": math.nan}],
            "semantic": [{"band_low": 2}],
            "ood_heavy_write": [{"loss_z_max": 1e300}, {"grad_norm_z_max": 0}],
        },
        build=GateConfig.from_dict,
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
