"""The gate's cheap rules as pure functions: each returns ``(score, reason or None)``.

Token entropy, repetition floods, repeated statements, long minified runs, invisible and
bidi characters (with the text they hide), and OOD-plus-heavy-write. The phrase rule is in
:mod:`ttt.safety.overrides`, the decoders in :mod:`ttt.safety.decode`, the orchestration
(decoded views, windows, the learned stages, streams) in :mod:`ttt.safety.gate`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping

from ttt.safety import textnorm
from ttt.safety.gate_config import (
    InvisibleCharsConfig,
    LongRunConfig,
    OodHeavyWriteConfig,
    RepeatedStatementConfig,
    RepetitionFloodConfig,
    TokenEntropyConfig,
)

__all__ = [
    "SIGNAL_KEYS",
    "fmt",
    "invisible",
    "long_run",
    "ood",
    "repeated_statement",
    "repetition",
    "statement_counts",
    "token_entropy",
]


def fmt(x: float) -> str:
    return f"{x:g}"


def token_entropy(tokens: list[str], cfg: TokenEntropyConfig) -> tuple[float, str | None]:
    n = len(tokens)
    if n < cfg.min_tokens:
        return 1.0, None
    counts = Counter(tokens).values()
    h = -sum(c / n * math.log2(c / n) for c in counts)
    ratio = h / math.log2(n)
    if ratio < cfg.min_ratio:
        return ratio, (
            f"token_entropy: {h:.2f} bits over {n} tokens ({len(counts)} distinct) is "
            f"{ratio:.2f} of the maximum, below the limit {fmt(cfg.min_ratio)}"
        )
    return ratio, None


def repetition(tokens: list[str], cfg: RepetitionFloodConfig) -> tuple[float, str | None]:
    n = len(tokens)
    if n < max(cfg.min_tokens, cfg.ngram + 1):
        return 0.0, None
    k = cfg.ngram
    grams = list(zip(*(tokens[i:] for i in range(k)), strict=False))
    score = 1.0 - len(set(grams)) / len(grams)
    if score > cfg.max_repeat:
        return score, (
            f"repetition_flood: {score:.2f} of the chunk's word {k}-grams are repeats "
            f"({len(set(tokens))} distinct words in {n}), above the limit {fmt(cfg.max_repeat)}"
        )
    return score, None


# A statement is prose ending in . ! ? or ; (a code line, table row or link fragment that a
# README repeats ends at a line break or inside a URL and is not counted).
_STATEMENT_RE = re.compile(r"([^.!?;\n]+)([.!?;\n]+|$)")
_PROSE_CHARS_RE = re.compile(r"[^\W\d_]|\s|[,'’-]")


def statement_counts(folded: str, cfg: RepeatedStatementConfig) -> dict[str, int]:
    """Occurrences of each statement (skeleton of a prose sentence of ``min_words``+
    space-separated words, ended by sentence punctuation, at least 80% letters and spaces)
    in the folded text."""
    counts: dict[str, int] = {}
    for m in _STATEMENT_RE.finditer(folded):
        sentence, end = m.group(1), m.group(2)
        if not any(c in end for c in ".!?;"):
            continue
        words = textnorm.words(sentence)
        # Words apart by spaces: "com/org/repo/blob/README" of a repeated link is one word.
        if len(words) < cfg.min_words or len(sentence.split()) < cfg.min_words:
            continue
        body = sentence.strip()
        if len(_PROSE_CHARS_RE.findall(body)) < 0.8 * len(body) or "http" in body:
            continue
        # The skeleton keeps Latin letters only; other scripts are compared word by word.
        skel = textnorm.skeleton_of_folded(sentence)
        key = skel if len(skel) >= 2 * len(words) else " ".join(words)
        counts[key] = counts.get(key, 0) + 1
    return counts


def repeated_statement(
    counts: Mapping[str, int], carried: Mapping[str, int], cfg: RepeatedStatementConfig
) -> tuple[float, str | None]:
    """Fails on a statement repeated within the chunk, or (an implant split over two chunks)
    together with its occurrences in the previous chunk (``carried``) when this chunk itself
    contains it. The score counts both."""
    inside = max(counts.values(), default=0)
    across = max((n + carried.get(k, 0) for k, n in counts.items()), default=0)
    reason = None
    if inside > cfg.max_repeats:
        reason = (
            f"repeated_statement: one statement of {cfg.min_words}+ words occurs {inside} "
            f"times in the chunk, above the limit {cfg.max_repeats}"
        )
    elif across > cfg.max_repeats:
        reason = (
            f"repeated_statement: one statement of {cfg.min_words}+ words occurs {across} "
            f"times in this chunk and the one before, above the limit {cfg.max_repeats}"
        )
    return float(across), reason


_LONG_RUN_RE = re.compile(r"[!-~]+")
# A link is not a minified blob: runs that are (or wrap) a URL are measured without it.
_URL_RE = re.compile(r"https?://[!-~]+")


def long_run(text: str, cfg: LongRunConfig) -> tuple[float, str | None]:
    runs = _LONG_RUN_RE.findall(text)
    longest = max((len(_URL_RE.sub("", r)) if "://" in r else len(r) for r in runs), default=0)
    if longest > cfg.max_chars:
        return float(longest), (
            f"long_run: a run of {longest} characters without whitespace (links not "
            f"counted), above the limit {cfg.max_chars}"
        )
    return float(longest), None


_STRONG_INVISIBLE = frozenset(
    [
        *map(chr, range(0x202A, 0x202F)),  # bidi embeddings and overrides
        *map(chr, range(0x2066, 0x206A)),  # bidi isolates
        "\ufff9",  # interlinear annotation anchor, separator, terminator
        "\ufffa",
        "\ufffb",
        *map(chr, range(0xE0000, 0xE0080)),  # tag characters
    ]
)
_FLAG_TAGS_RE = re.compile("\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]{1,6}\U000e007f")
_INVISIBLE_RUN_RE = re.compile(f"[{textnorm.INVISIBLE_CLASS}]+")
_RTL_RE = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_BIDI_OVERRIDE_RUN_RE = re.compile("\u202e([^\u202c\u2069\n]{3,})")


def _is_emoji(c: str) -> bool:
    cp = ord(c)
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or 0x2B00 <= cp <= 0x2BFF
        or cp in (0xFE0F, 0x20E3, 0x2640, 0x2642, 0x2695, 0x2708, 0x2764)
    )


def _in(c: str, *ranges: tuple[int, int]) -> bool:
    cp = ord(c)
    return any(lo <= cp <= hi for lo, hi in ranges)


_JOINING_SCRIPTS = ((0x0600, 0x08FF), (0x0900, 0x0DFF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFC))
_NO_SPACE_SCRIPTS = ((0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x3000, 0x9FFF))


def _invisible_weight(text: str, i: int, c: str, has_rtl: bool, cfg: InvisibleCharsConfig) -> float:
    prev = text[i - 1] if i > 0 else ""
    nxt = text[i + 1] if i + 1 < len(text) else ""
    if c in _STRONG_INVISIBLE:
        return cfg.strong_weight
    if c == "\u200d":  # ZWJ: emoji sequences, Arabic and Indic shaping
        if (
            prev and nxt and _is_emoji(nxt) and (_is_emoji(prev) or 0x1F3FB <= ord(prev) <= 0x1F3FF)
        ) or (prev and nxt and _in(prev, *_JOINING_SCRIPTS) and _in(nxt, *_JOINING_SCRIPTS)):
            return 0.0
    elif c == "\u200c":  # ZWNJ: Persian and Indic words
        if prev and nxt and _in(prev, *_JOINING_SCRIPTS) and _in(nxt, *_JOINING_SCRIPTS):
            return 0.0
    elif c == "\u200b":  # ZWSP: word separator in Thai, Lao, Khmer, Burmese, CJK line breaks
        if (prev and _in(prev, *_NO_SPACE_SCRIPTS)) or (nxt and _in(nxt, *_NO_SPACE_SCRIPTS)):
            return 0.0
    elif "\ufe00" <= c <= "\ufe0f":  # a single selector after an emoji, symbol or ideograph
        if prev and not prev.isascii() and not ("\ufe00" <= prev <= "\ufe0f"):
            return 0.0
    elif "\U000e0100" <= c <= "\U000e01ef":  # ideographic variation sequences
        if prev and _in(prev, (0x3400, 0x9FFF), (0x20000, 0x3FFFF)):
            return 0.0
    elif c in "\u200e\u200f\u061c":  # LRM, RLM, ALM in text that has right-to-left letters
        if has_rtl:
            return 0.0
    elif c == "\ufeff":
        if i == 0:
            return 0.0
    elif c == "\u00ad":  # soft hyphen inside a word
        if prev.isalpha() and nxt.isalpha():
            return 0.0
    elif "\u180b" <= c <= "\u180f" and prev and _in(prev, (0x1800, 0x18AF)):
        return 0.0
    return cfg.weak_weight


def invisible(
    text: str, cfg: InvisibleCharsConfig
) -> tuple[float, str | None, list[tuple[str, str]]]:
    """(score, reason, [(where, hidden text to rescan)])."""
    if textnorm.INVISIBLE_RE.search(text) is None:
        return 0.0, None, []
    scan = _FLAG_TAGS_RE.sub("\U0001f3f4", text) if "\U0001f3f4" in text else text
    has_rtl = _RTL_RE.search(scan) is not None
    score = 0.0
    counted: Counter[str] = Counter()
    for m in _INVISIBLE_RUN_RE.finditer(scan):
        run, start, end = m.group(), m.start(), m.end()
        at_space = (
            start == 0 or end == len(scan) or scan[start - 1].isspace() or scan[end].isspace()
        )
        if len(run) <= 2 and at_space and not any(c in _STRONG_INVISIBLE for c in run):
            continue  # one or two stray characters beside a space: editor/translation debris
        for i, c in enumerate(run, start):
            w = _invisible_weight(scan, i, c, has_rtl, cfg)
            if w > 0:
                score += w
                counted[c] += 1
    hidden: list[tuple[str, str]] = []
    if cfg.rescan:
        hidden = [
            ("tag-character", textnorm.tag_decode(scan)),
            ("variation-selector", textnorm.variation_selector_decode(scan)),
            ("bidi-reordered", "\n".join(r[::-1] for r in _BIDI_OVERRIDE_RUN_RE.findall(scan))),
        ]
    if score > cfg.max_score:
        top = ", ".join(f"U+{ord(c):04X} ×{k}" for c, k in counted.most_common(4))
        more = "" if len(counted) <= 4 else f", {len(counted) - 4} more kinds"
        return (
            score,
            (
                f"invisible_chars: {sum(counted.values())} invisible or bidi-control characters "
                f"({top}{more}), weighted score {score:g} above the limit {fmt(cfg.max_score)}"
            ),
            hidden,
        )
    return score, None, hidden


# Instruction-override phrase families, written in plain words and compiled into the
# skeleton alphabet (letters only, ``l`` read as ``i``), so spacing, punctuation, case,
# look-alike letters and leetspeak do not matter. Each family has anchor words: the family's
# regex only runs when one of them occurs in the skeleton (a C-speed substring test).
SIGNAL_KEYS = ("loss_z", "grad_norm_z")


def ood(signals: Mapping[str, float] | None, cfg: OodHeavyWriteConfig) -> tuple[float, str | None]:
    if signals is None:
        return 0.0, None
    for key, value in signals.items():
        if key not in SIGNAL_KEYS:
            raise ValueError(f"unknown model signal {key!r} (known: {', '.join(SIGNAL_KEYS)})")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"model signal {key} must be a finite number, got {value!r}")
    if not all(k in signals for k in SIGNAL_KEYS):
        return 0.0, None
    lz, gz = float(signals["loss_z"]), float(signals["grad_norm_z"])
    score = min(lz, gz)
    if lz > cfg.loss_z_max and gz > cfg.grad_norm_z_max:
        return score, (
            f"ood_heavy_write: loss z-score {lz:.2f} above the limit {fmt(cfg.loss_z_max)} "
            f"and write-pressure (gradient-norm) z-score {gz:.2f} above the limit "
            f"{fmt(cfg.grad_norm_z_max)}"
        )
    return score, None
