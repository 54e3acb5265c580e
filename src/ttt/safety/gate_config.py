"""Thresholds of the pre-update gate: one small config per rule, nested in :class:`GateConfig`.

Every field can be overridden as ``"rule.field"`` (:meth:`GateConfig.with_overrides`, the
CLI's ``--set``); every value is validated and a bad one raises ``ValueError`` naming it.
The learned stages' defaults are read from their shipped weights (the thresholds chosen when
they were trained), so retraining moves the gate with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ttt.configs import check_bool, check_float, check_int

__all__ = [
    "RULE_NAMES",
    "EncodedBlobConfig",
    "GateConfig",
    "InjectionScorerConfig",
    "InstructionOverrideConfig",
    "InvisibleCharsConfig",
    "LongRunConfig",
    "OodHeavyWriteConfig",
    "RepeatedStatementConfig",
    "RepetitionFloodConfig",
    "SemanticConfig",
    "TokenEntropyConfig",
]


def _check_range(
    rule: str, name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False
) -> None:
    """A finite number (not a bool) in [lo, hi] (``(lo, hi]`` with ``lo_open``)."""
    check_float(f"{rule}.{name}", value, lo=lo, hi=hi, lo_open=lo_open)


def _check_ints(rule: str, cfg: Any, limits: Mapping[str, tuple[int, int]]) -> None:
    for name, (lo, hi) in limits.items():
        check_int(f"{rule}.{name}", getattr(cfg, name), lo=lo, hi=hi)


def _check_bools(rule: str, cfg: Any) -> None:
    """Every bool field of a rule config is a bool."""
    for f in fields(cfg):
        if f.type == "bool":
            check_bool(f"{rule}.{f.name}", getattr(cfg, f.name))


@dataclass
class TokenEntropyConfig:
    """Low token entropy: Shannon entropy of the word tokens divided by log2(token count)."""

    enabled: bool = True
    min_ratio: float = 0.5  # fails below this fraction of the maximum entropy
    min_tokens: int = 16  # fewer word tokens: no verdict (score 1.0)

    def __post_init__(self) -> None:
        _check_bools("token_entropy", self)
        _check_range("token_entropy", "min_ratio", self.min_ratio, 0.0, 1.0)
        _check_ints("token_entropy", self, {"min_tokens": (2, 1_000_000)})


@dataclass
class RepetitionFloodConfig:
    """Low diversity / repetition floods: share of word n-grams that repeat an earlier one."""

    enabled: bool = True
    max_repeat: float = 0.5
    ngram: int = 3
    min_tokens: int = 12

    def __post_init__(self) -> None:
        _check_bools("repetition_flood", self)
        _check_range("repetition_flood", "max_repeat", self.max_repeat, 0.0, 1.0)
        _check_ints("repetition_flood", self, {"ngram": (1, 16), "min_tokens": (2, 1_000_000)})


@dataclass
class RepeatedStatementConfig:
    """Trigger implants: one statement ("X means Y.") repeated within a chunk.

    Sentences are compared on their letters-only skeleton (case, spacing, punctuation,
    look-alikes folded); only sentences of at least ``min_words`` words count."""

    enabled: bool = True
    max_repeats: int = 2  # fails when one statement occurs more often than this
    min_words: int = 4

    def __post_init__(self) -> None:
        _check_bools("repeated_statement", self)
        _check_ints(
            "repeated_statement", self, {"max_repeats": (1, 1_000_000), "min_words": (1, 1_000)}
        )


@dataclass
class EncodedBlobConfig:
    """Encoded blobs (base64, hex, ``\\x``/``%`` escapes): decode, rescan, measure their share."""

    enabled: bool = True
    max_fraction: float = 0.5  # share of non-space characters in counted runs
    min_base64_chars: int = 16
    min_hex_chars: int = 16
    opaque_min_chars: int = 128  # runs that do not decode to text count only from this length
    rescan: bool = True  # rescan decoded text with every rule
    # Nested decodings followed (base64 of base64, text hidden in decoded text); also bounds
    # the rescans of text hidden in invisible characters.
    max_depth: int = 2
    # Also decode percent-escapes, Morse, leetspeak/spaced letters and simple ciphers (ROT13
    # and the other Caesar shifts, Atbash, reversed text) and score what they reveal.
    views: bool = True

    def __post_init__(self) -> None:
        _check_bools("encoded_blob", self)
        _check_range("encoded_blob", "max_fraction", self.max_fraction, 0.0, 1.0)
        _check_ints(
            "encoded_blob",
            self,
            {
                "min_base64_chars": (4, 1_000_000),
                "min_hex_chars": (4, 1_000_000),
                "opaque_min_chars": (1, 1_000_000),
                "max_depth": (0, 8),
            },
        )


@dataclass
class LongRunConfig:
    """Long minified runs: printable ASCII without whitespace (CJK text is not counted)."""

    enabled: bool = True
    max_chars: int = 200

    def __post_init__(self) -> None:
        _check_bools("long_run", self)
        _check_ints("long_run", self, {"max_chars": (1, 1_000_000)})


@dataclass
class InvisibleCharsConfig:
    """Invisible and bidi-control characters outside their legitimate contexts.

    Strong characters (bidi embeddings, overrides and isolates, tag characters outside an
    emoji flag, interlinear annotations) weigh ``strong_weight``; the rest (zero-width
    space/joiners, word joiner, stray variation selectors, LRM/RLM in text without
    right-to-left letters, ...) weigh ``weak_weight``. A ZWJ inside an emoji sequence, ZWNJ
    in Persian or Indic words, ZWSP in Thai, a BOM at the start, a soft hyphen inside a word,
    a flag's tag sequence, and one or two weak characters beside a space (editor and
    machine-translation debris) are legitimate and weigh nothing."""

    enabled: bool = True
    max_score: float = 0.5
    strong_weight: float = 1.0
    weak_weight: float = 0.5
    rescan: bool = True  # rescan text hidden in tag characters, variation selectors, bidi runs

    def __post_init__(self) -> None:
        _check_bools("invisible_chars", self)
        _check_range("invisible_chars", "max_score", self.max_score, 0.0, 1e6)
        # A strong character must count, or the rule could never fire on one.
        _check_range("invisible_chars", "strong_weight", self.strong_weight, 0.0, 1e6, lo_open=True)
        _check_range("invisible_chars", "weak_weight", self.weak_weight, 0.0, 1e6)


@dataclass
class InstructionOverrideConfig:
    """Instruction-override phrases, matched on the letters-only skeleton of the text."""

    enabled: bool = True
    max_matches: int = 0
    tail_chars: int = 96  # skeleton letters of the previous chunk kept by GateStream
    # A phrase found only inside quotation marks is a mention, not an instruction (the
    # learned stages still read it).
    quoted_exempt: bool = True

    def __post_init__(self) -> None:
        _check_bools("instruction_override", self)
        _check_ints(
            "instruction_override",
            self,
            {"max_matches": (0, 1_000_000), "tail_chars": (0, 100_000)},
        )


def _shipped_scorer_threshold() -> float:
    from ttt.safety.scorer import load_default_scorer

    return float(load_default_scorer().threshold)


def _shipped_semantic(key: str) -> float:
    from ttt.safety.gate_semantic import load_default_stage

    return float(getattr(load_default_stage(), key))


@dataclass
class InjectionScorerConfig:
    """The shipped n-gram scorer (``gate_scorer.json``): its probability threshold.

    The text as given and each decoded view are cut into windows of about ``window_chars``
    characters (whole sentences), each window is scored, and the chunk's score is the
    highest: an instruction buried in a long document is scored on its own. The default
    threshold is the one chosen when the weights were trained (see ``ttt.safety.gate_train``):
    a confident block on its own; less certain windows go to the ``semantic`` stage."""

    enabled: bool = True
    threshold: float = field(default_factory=_shipped_scorer_threshold)
    window_chars: int = 600
    # Decoded or hidden text shorter than this many words is not scored: short fragments
    # ("Hello, world!" in a base64 tutorial) look like the short prompts it was trained on.
    rescan_min_tokens: int = 4
    # In a stream (chat turns, Sentry), a chunk shorter than this many characters is scored
    # by the learned stages together with the end of the text before it, up to this many
    # characters in all: a sentence cut by a chunk boundary is scored whole, not as a
    # fragment (the scorer learned from whole prompts; a four-word tail such as "grain
    # every morning." scored 0.91 alone). 0: every chunk on its own.
    context_chars: int = 240

    def __post_init__(self) -> None:
        _check_bools("injection_scorer", self)
        _check_range("injection_scorer", "threshold", self.threshold, 0.0, 1.0)
        _check_ints(
            "injection_scorer",
            self,
            {
                "window_chars": (50, 1_000_000),
                "rescan_min_tokens": (0, 1_000_000),
                "context_chars": (0, 1_000_000),
            },
        )


@dataclass
class SemanticConfig:
    """The semantic stage (``gate_semantic.json``): MiniLM sentence embeddings (int8, one
    window at a time; in a ``--semantic lora`` stage, with fine-tuned adapters merged into
    its top layers) -> a logistic head, stacked with the n-gram score.

    A cascade behind the cheap rules: a window is embedded only when its n-gram probability
    is at least ``band_low`` (most chunks are far below and never pay for the embedding),
    only when no other rule has blocked the chunk, and at most ``max_windows`` windows per
    chunk (the highest n-gram probabilities first; this bounds the latency). Fails when the
    stacked probability of any embedded window is above ``threshold``."""

    enabled: bool = True
    threshold: float = field(default_factory=lambda: _shipped_semantic("threshold"))
    band_low: float = field(default_factory=lambda: _shipped_semantic("band_low"))
    max_windows: int = 1

    def __post_init__(self) -> None:
        _check_bools("semantic", self)
        _check_range("semantic", "threshold", self.threshold, 0.0, 1.0)
        _check_range("semantic", "band_low", self.band_low, 0.0, 1.0)
        _check_ints("semantic", self, {"max_windows": (1, 64)})


@dataclass
class OodHeavyWriteConfig:
    """Out-of-distribution text that would also write hard: both z-scores above their limits.

    ``loss_z`` is the chunk's loss as a z-score against the model's own training
    distribution; ``grad_norm_z`` is the update's gradient norm (write pressure) as a
    z-score. Never a fixed raw loss. Only evaluated when the caller passes both signals."""

    enabled: bool = True
    loss_z_max: float = 3.0
    # Text from a new domain legitimately writes harder than the training distribution
    # (write z 5-25 on unseen documentation); floods and gibberish write 40-80.
    grad_norm_z_max: float = 30.0

    def __post_init__(self) -> None:
        _check_bools("ood_heavy_write", self)
        # z-score limits: > 0 (a limit at or below the mean flags ordinary text) and finite.
        _check_range("ood_heavy_write", "loss_z_max", self.loss_z_max, 0.0, 1e6, lo_open=True)
        _check_range(
            "ood_heavy_write", "grad_norm_z_max", self.grad_norm_z_max, 0.0, 1e6, lo_open=True
        )


_RULE_CONFIGS: dict[str, type] = {
    "token_entropy": TokenEntropyConfig,
    "repetition_flood": RepetitionFloodConfig,
    "repeated_statement": RepeatedStatementConfig,
    "encoded_blob": EncodedBlobConfig,
    "long_run": LongRunConfig,
    "invisible_chars": InvisibleCharsConfig,
    "instruction_override": InstructionOverrideConfig,
    "injection_scorer": InjectionScorerConfig,
    "semantic": SemanticConfig,
    "ood_heavy_write": OodHeavyWriteConfig,
}
RULE_NAMES: tuple[str, ...] = tuple(_RULE_CONFIGS)
# Direction of each score: True where a higher score is worse.
HIGHER_IS_WORSE = {name: name != "token_entropy" for name in RULE_NAMES}


def _coerce(rule: str, name: str, kind: str, value: Any) -> Any:
    """Validate one field value against its declared type (bool, int or float)."""
    where = f"{rule}.{name}"
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} must be a number, got {value!r}")
    if kind == "int":
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{where} must be an integer, got {value!r}")
        return int(value)
    return float(value)


def _build_rule(rule: str, values: Mapping[str, Any], base: Any | None = None) -> Any:
    cls = _RULE_CONFIGS[rule]
    kinds = {f.name: str(f.type) for f in fields(cls)}
    for key in values:
        if key not in kinds:
            raise ValueError(f"unknown field {rule}.{key!s} (fields of {rule}: {', '.join(kinds)})")
    coerced = {k: _coerce(rule, k, kinds[k], v) for k, v in values.items()}
    return replace(base, **coerced) if base is not None else cls(**coerced)


@dataclass
class GateConfig:
    """Thresholds of every gate rule, one nested config per rule (``rule.field``)."""

    token_entropy: TokenEntropyConfig = field(default_factory=TokenEntropyConfig)
    repetition_flood: RepetitionFloodConfig = field(default_factory=RepetitionFloodConfig)
    repeated_statement: RepeatedStatementConfig = field(default_factory=RepeatedStatementConfig)
    encoded_blob: EncodedBlobConfig = field(default_factory=EncodedBlobConfig)
    long_run: LongRunConfig = field(default_factory=LongRunConfig)
    invisible_chars: InvisibleCharsConfig = field(default_factory=InvisibleCharsConfig)
    instruction_override: InstructionOverrideConfig = field(
        default_factory=InstructionOverrideConfig
    )
    injection_scorer: InjectionScorerConfig = field(default_factory=InjectionScorerConfig)
    semantic: SemanticConfig = field(default_factory=SemanticConfig)
    ood_heavy_write: OodHeavyWriteConfig = field(default_factory=OodHeavyWriteConfig)

    def __post_init__(self) -> None:
        for rule, cls in _RULE_CONFIGS.items():
            if not isinstance(getattr(self, rule), cls):
                raise ValueError(f"{rule} must be a {cls.__name__}, got {getattr(self, rule)!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], base: GateConfig | None = None) -> GateConfig:
        """Build from ``{rule: {field: value}}``; missing rules and fields keep the defaults
        (or ``base``'s values), unknown ones raise ``ValueError`` naming the key."""
        if not isinstance(d, Mapping):
            raise ValueError(f"gate config must be a JSON object, got {type(d).__name__}")
        parts: dict[str, Any] = {}
        for rule, values in d.items():
            if rule not in _RULE_CONFIGS:
                raise ValueError(f"unknown gate rule {rule!r} (rules: {', '.join(RULE_NAMES)})")
            if not isinstance(values, Mapping):
                raise ValueError(f"{rule} must be an object of fields, got {values!r}")
            parts[rule] = _build_rule(rule, values, getattr(base, rule, None))
        return replace(base, **parts) if base is not None else cls(**parts)

    def with_overrides(self, overrides: Mapping[str, Any]) -> GateConfig:
        """A copy with ``{"rule.field": value}`` overrides applied and validated."""
        grouped: dict[str, dict[str, Any]] = {}
        for key, value in overrides.items():
            rule, dot, name = key.partition(".")
            if not dot or not name:
                raise ValueError(f"override {key!r} must look like rule.field")
            if rule not in _RULE_CONFIGS:
                raise ValueError(f"unknown gate rule {rule!r} (rules: {', '.join(RULE_NAMES)})")
            grouped.setdefault(rule, {})[name] = value
        parts = {r: _build_rule(r, v, getattr(self, r)) for r, v in grouped.items()}
        return replace(self, **parts)
