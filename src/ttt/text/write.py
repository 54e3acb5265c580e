"""How a chat turn is written into the fast weights: the examples each transaction trains on.

A user message is cut into chunks (``SentryConfig.chunk_tokens``); each chunk is gated and
written through one engine transaction (``SentryMonitor.process_chunk``). What the write
trains on is the **objective** of ``WriteConfig``:

* ``turn``: next-token loss on the message's own tokens, read inside the model's chat template
  (``<|im_start|>user ... <|im_end|>`` for an instruct model; the bare message for TinyLm).
  Chunks of one message are read as one document (each after the previous one).

The memory benchmark (``ttt bench memory``) measures what each objective lets a session
recall, bind and leak.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch

from ttt.configs import from_dict
from ttt.models.protocol import Example
from ttt.text.monitor import SentryMonitor

OBJECTIVES = ("turn",)


@dataclass
class WriteConfig:
    """What a chat write trains on (see the module docstring)."""

    objective: str = "turn"

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"WriteConfig.objective must be one of {OBJECTIVES}, got {self.objective!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WriteConfig:
        return from_dict(cls, d, "WriteConfig")


def write_message(
    mon: SentryMonitor, text: str, wcfg: WriteConfig, *, keep_text: bool = True
) -> list[dict[str, Any]]:
    """Gate and write one user message, chunk by chunk; returns the chunk events. The
    message is a fresh document (fresh stream context and gate carry)."""
    mon.new_document()
    chunks = mon.chunks(text)
    if not chunks:
        raise ValueError("text has no tokens")
    pre, post = mon.lm.chat_pieces(False)
    events = []
    for i, ch in enumerate(chunks):
        head = pre if i == 0 else []
        tail = post if i == len(chunks) - 1 else []
        if not head and not tail:
            events.append(mon.process_chunk(ch, keep_text=keep_text))  # the plain stream
            continue
        ids = [*head, *ch.ids, *tail]
        w = torch.zeros(len(ids))
        w[len(head) : len(head) + len(ch.ids)] = 1.0
        ex = Example(ids=ids, ctx=mon.ctx, weights=w)
        span = (len(head), len(head) + len(ch.ids))
        events.append(mon.process_chunk(ch, keep_text=keep_text, examples=[ex], span=span))
    return events
