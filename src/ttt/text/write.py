"""How a chat turn is written into the fast weights: the examples each transaction trains on.

A user message is cut into chunks (``SentryConfig.chunk_tokens``); each chunk is gated and
written through one engine transaction (``SentryMonitor.process_chunk``). What the write
trains on is the **objective** of ``WriteConfig``:

* ``turn``: next-token loss on the message's own tokens, read inside the model's chat template
  (``<|im_start|>user ... <|im_end|>`` for an instruct model; the bare message for TinyLm).
  Chunks of one message are read as one document (each after the previous one).
* ``qa``: the turn, plus question -> answer pairs built from it by templates: every sentence
  that names something (a run of capitalised words that is not a sentence opener, e.g.
  "Zorvath Quillen") becomes the assistant's answer to generic questions about that name
  ("What do you know about Zorvath Quillen?"). The key is what a later question will
  mention, so the write binds the fact to its key instead of to every question.
  With ``anchors > 0`` each write also trains on that many **anchors**: questions about
  made-up names never mentioned, answered with the base model's own greedy reply (computed
  once per model), a sequence-level KL anchor that keeps unrelated answers where they were.

The memory benchmark (``ttt bench memory``) measures what each objective lets a session
recall, bind and leak.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from ttt.configs import from_dict
from ttt.models.protocol import Example, FastWeightLm, chat_prompt
from ttt.text.monitor import Chunk, SentryMonitor

OBJECTIVES = ("turn", "qa")
QA_TEMPLATES = (
    "What do you know about {key}?",
    "Tell me about {key}.",
    "What did I tell you about {key}?",
)
# Capitalised words that open sentences or address the assistant, not names.
_OPENERS = frozenset(
    [
        "I",
        "I'm",
        "I've",
        "My",
        "Our",
        "We",
        "The",
        "A",
        "An",
        "This",
        "That",
        "These",
        "Those",
        "It",
        "He",
        "She",
        "They",
        "You",
        "Your",
        "Remember",
        "Please",
        "Also",
        "And",
        "But",
        "So",
        "Then",
        "Today",
        "Yesterday",
        "Tomorrow",
        "Note",
        "Hi",
        "Hello",
        "Dear",
    ]
)
_KEY = re.compile(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_ANCHOR_SYLLABLES = ("ba", "ke", "lo", "mu", "ri", "sa", "to", "vi", "ne", "da", "po", "gu")


@dataclass
class WriteConfig:
    """What a chat write trains on (see the module docstring)."""

    objective: str = "turn"
    qa_templates: list[str] = field(default_factory=lambda: list(QA_TEMPLATES))
    max_keys: int = 4
    anchors: int = 0
    anchor_tokens: int = 24

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"WriteConfig.objective must be one of {OBJECTIVES}, got {self.objective!r}"
            )
        if (
            not isinstance(self.qa_templates, list)
            or not self.qa_templates
            or not all(
                isinstance(t, str) and t.count("{key}") == 1 and len(t) <= 300
                for t in self.qa_templates
            )
        ):
            raise ValueError(
                "WriteConfig.qa_templates must be a non-empty list of strings with one {key}, "
                f"got {self.qa_templates!r}"
            )
        for name, hi in (("max_keys", 16), ("anchors", 32), ("anchor_tokens", 128)):
            v = getattr(self, name)
            lo = 1 if name != "anchors" else 0
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"WriteConfig.{name} must be an int in [{lo}, {hi}], got {v!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WriteConfig:
        return from_dict(cls, d, "WriteConfig")


def keys_of(sentence: str) -> list[str]:
    """Names a sentence mentions: runs of capitalised words, minus sentence openers."""
    out = []
    for m in _KEY.finditer(sentence):
        words = m.group(0).split()
        while words and words[0] in _OPENERS:
            words = words[1:]
        key = re.sub(r"['’]s$", "", " ".join(words)).strip()
        if key and key not in out:
            out.append(key)
    return out


def qa_pairs(text: str, wcfg: WriteConfig) -> list[tuple[str, str]]:
    """(question, answer) pairs the ``qa`` objective builds from a message."""
    pairs: list[tuple[str, str]] = []
    keys_seen: list[str] = []
    for m in _SENTENCE.finditer(text):
        sentence = m.group(0).strip()
        if len(sentence) < 8:
            continue
        for key in keys_of(sentence):
            if key in keys_seen or len(keys_seen) >= wcfg.max_keys:
                continue
            keys_seen.append(key)
            pairs.extend((t.format(key=key), sentence) for t in wcfg.qa_templates)
    return pairs


def reply_example(lm: FastWeightLm, question: str, answer: str) -> Example:
    """``answer`` as the assistant's reply to ``question``: loss on the answer's tokens and
    the end of the turn."""
    p = chat_prompt(lm, question)
    _, post = lm.chat_pieces(False)
    a = [*lm.tokenizer.encode(answer), *post[:1]]  # the answer, then the template's turn end
    w = torch.zeros(len(p) + len(a))
    w[len(p) :] = 1.0
    return Example(ids=p + a, weights=w)


class Anchors:
    """Base-model replies to questions about made-up names (the KL anchor of ``qa``),
    generated once per model with fresh fast weights."""

    def __init__(self, mon: SentryMonitor, n: int, max_tokens: int) -> None:
        from ttt.models.generate import generate_ids

        rng = random.Random(0)
        lm = mon.lm
        saved = mon.fast_weights()
        mon.load_fast_weights(lm.initial_plastic())
        self.examples: list[Example] = []
        try:
            for i in range(n):
                name = " ".join(
                    "".join(rng.choice(_ANCHOR_SYLLABLES) for _ in range(3)).capitalize()
                    for _ in range(2)
                )
                q = QA_TEMPLATES[i % len(QA_TEMPLATES)].format(key=name)
                reply = generate_ids(lm, chat_prompt(lm, q), max_tokens, 0.0, None)[1]
                if reply.strip():
                    self.examples.append(reply_example(lm, q, reply))
        finally:
            mon.load_fast_weights(saved)


_ANCHORS: dict[tuple[int, int, int], Anchors] = {}


def _anchors(mon: SentryMonitor, wcfg: WriteConfig) -> list[Example]:
    if wcfg.anchors == 0:
        return []
    key = (id(mon.lm), wcfg.anchors, wcfg.anchor_tokens)
    if key not in _ANCHORS:
        _ANCHORS[key] = Anchors(mon, wcfg.anchors, wcfg.anchor_tokens)
    return _ANCHORS[key].examples


def write_message(
    mon: SentryMonitor, text: str, wcfg: WriteConfig, *, keep_text: bool = True
) -> list[dict[str, Any]]:
    """Gate and write one user message, chunk by chunk; returns the chunk events. The
    message is a fresh document (fresh stream context and gate carry)."""
    mon.new_document()
    chunks = mon.chunks(text)
    if not chunks:
        raise ValueError("text has no tokens")
    lm = mon.lm
    pre, post = lm.chat_pieces(False)
    events = []
    for i, ch in enumerate(chunks):
        head = pre if i == 0 else []
        tail = post if i == len(chunks) - 1 else []
        extra: list[Example] = []
        if wcfg.objective == "qa":
            extra = [reply_example(lm, q, a) for q, a in qa_pairs(ch.text, wcfg)]
            extra += _anchors(mon, wcfg)
        if not head and not tail and not extra:
            events.append(mon.process_chunk(ch, keep_text=keep_text))  # the plain stream
            continue
        events.append(_write_chunk(mon, ch, head, tail, extra, keep_text))
    return events


def _write_chunk(
    mon: SentryMonitor,
    ch: Chunk,
    head: list[int],
    tail: list[int],
    extra: list[Example],
    keep_text: bool,
) -> dict[str, Any]:
    ids = [*head, *ch.ids, *tail]
    w = torch.zeros(len(ids))
    w[len(head) : len(head) + len(ch.ids)] = 1.0
    ex = Example(ids=ids, ctx=mon.ctx, weights=w)
    span = (len(head), len(head) + len(ch.ids))
    return mon.process_chunk(ch, keep_text=keep_text, examples=[ex, *extra], span=span)
