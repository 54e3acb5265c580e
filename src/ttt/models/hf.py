"""HF causal LMs as a protocol backend: a frozen ``transformers`` model with LoRA fast weights.

    lm = HfCausalLm.load(folder, LoraSettings(rank=8), model_id="smollm2", meta={...})
    prep = lm.prepare(Example(ids=lm.tokenizer.encode("Paris is in France."), ctx=None))
    loss, grads, influence = lm.write_signals(prep)
    with lm.inference():
        logits, state = lm.prefill(chat_prompt(lm, "Hi"))

**Fast weights** are LoRA matrices injected by ``peft`` (``inject_adapter_in_model``) into the
chosen projections of the chosen layers: ``ΔW = (alpha / r) B A``, ``A`` (r, in) seeded
Kaiming-uniform, ``B`` (out, r) zero, so a fresh session *is* the base model (tested on
logits, ``torch.equal``). Every core weight has ``requires_grad=False``; backward stops at the
lowest layer that carries LoRA.

**Per-token influence** is exact, as for TinyLm's context net: each LoRA gradient is a sum of
per-position outer products (``dB = Σ_p δ_p a_pᵀ``, ``dA = Σ_p (Bᵀ δ_p) x_pᵀ`` with ``x_p`` the
module input, ``a_p = A x_p`` and ``δ_p`` the gradient at the LoRA branch output), so the norm
of position p's own contribution is ``sqrt(Σ_modules ‖δ_p‖²‖a_p‖² + ‖Bᵀδ_p‖²‖x_p‖²)``, taken
from forward hooks and one ``autograd.grad``.

**Generation** runs with a KV cache (``DynamicCache``) and, under ``inference()``, with every
LoRA merged into a *copy* of its base weight (``W + ΔW`` computed once per turn) and the
adapters disabled, so a generated token costs what the base model costs. The base weight
tensors themselves are never modified (peft's own ``merge``/``unmerge`` would add and subtract
ΔW in place, which leaves rounding residue in the frozen core).

**Stream context** (Sentry): the last ``context_tokens`` ids already read, re-read (without
loss) before the next chunk.

**User text** is encoded with special tokens split (``<|im_end|>`` in a message is plain
text), and the chat template is rendered around a sentinel, so a message can never forge a
role or end its own turn.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ttt.configs import check_float, check_int, from_dict
from ttt.models.protocol import Example, weighted_mean
from ttt.store import CorruptFileError

BACKEND = "hf"
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
MAX_LAYERS = 4096  # layer indices are in [0, MAX_LAYERS)
_SENTINEL = "\ue000ttt-user-message\ue001"


@dataclass(frozen=True)
class LoraSettings:
    """Where the LoRA fast weights sit and how big they are.

    ``layers``: ``"all"``, or ``"top:N"`` (the last N decoder layers), or a list of layer
    indices. ``context_tokens``: how many already-read ids a streamed chunk re-reads."""

    rank: int = 8
    alpha: float = 16.0
    targets: tuple[str, ...] = ("gate_proj", "up_proj", "down_proj")
    layers: str | tuple[int, ...] = "all"
    seed: int = 0
    context_tokens: int = 64

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"LoraSettings.{name} {why}, got {getattr(self, name)!r}")

        check_int("LoraSettings.rank", self.rank, lo=1, hi=256)
        check_float("LoraSettings.alpha", self.alpha, lo=0.0, lo_open=True, hi=1e4)
        if isinstance(self.targets, list):
            object.__setattr__(self, "targets", tuple(self.targets))
        if (
            not isinstance(self.targets, tuple)
            or not self.targets
            or any(not isinstance(t, str) or t not in TARGETS for t in self.targets)
        ):
            raise bad("targets", f"must be a non-empty subset of {TARGETS}")
        if len(set(self.targets)) != len(self.targets):
            raise bad("targets", "must not repeat a projection")
        layers = self.layers
        if isinstance(layers, list):
            layers = tuple(layers)
            object.__setattr__(self, "layers", layers)
        if isinstance(layers, str):
            n = layers[4:]
            if layers != "all" and not (
                layers.startswith("top:")
                and n.isascii()
                and n.isdigit()
                and 1 <= int(n) <= MAX_LAYERS
            ):
                raise bad("layers", f"must be 'all', 'top:N' (N in [1, {MAX_LAYERS}]) or indices")
        elif (
            not isinstance(layers, tuple)
            or not layers
            or any(
                isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < MAX_LAYERS
                for i in layers
            )
        ):
            raise bad("layers", f"must be 'all', 'top:N' or a list of indices in [0, {MAX_LAYERS})")
        check_int("LoraSettings.seed", self.seed, lo=0, hi=2**32 - 1)
        check_int("LoraSettings.context_tokens", self.context_tokens, lo=0, hi=4096)

    def layer_indices(self, n_layers: int) -> list[int]:
        if self.layers == "all":
            return list(range(n_layers))
        if isinstance(self.layers, str):
            n = int(self.layers[4:])
            return list(range(max(0, n_layers - n), n_layers))
        bad = [i for i in self.layers if i >= n_layers]
        if bad:
            raise ValueError(f"LoraSettings.layers {bad} out of range for {n_layers} layers")
        return sorted(set(self.layers))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["targets"] = list(self.targets)
        d["layers"] = self.layers if isinstance(self.layers, str) else list(self.layers)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> LoraSettings:
        return from_dict(cls, d, "LoraSettings")


def quiet_transformers() -> None:
    """Offline, and no progress bars or advisory warnings on every load."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as tf_logging

    tf_logging.disable_progress_bar()
    tf_logging.set_verbosity_error()


@dataclass(frozen=True)
class CoreAdapter:
    """A LoRA we trained (alignment, sleep) that becomes part of a model's frozen core:
    ``W += (alpha / rank) B A`` for every ``<module>.lora_A`` / ``<module>.lora_B`` pair, merged
    at load time into the base weights (the base file is never changed)."""

    tensors: Mapping[str, Tensor]
    alpha: float
    rank: int

    def __post_init__(self) -> None:
        names = {n.rsplit(".", 1)[0] for n in self.tensors}
        for m in names:
            if f"{m}.lora_A" not in self.tensors or f"{m}.lora_B" not in self.tensors:
                raise ValueError(f"core adapter module {m!r} needs both lora_A and lora_B")

    @torch.no_grad()
    def merge_into(self, model: Any) -> None:
        scale = self.alpha / self.rank
        for name in sorted({n.rsplit(".", 1)[0] for n in self.tensors}):
            try:
                lin = model.get_submodule(f"model.{name}")
            except AttributeError as e:
                raise ValueError(f"core adapter names a module the model lacks: {name!r}") from e
            a, b = self.tensors[f"{name}.lora_A"], self.tensors[f"{name}.lora_B"]
            w = lin.weight
            if (b.shape[0], a.shape[1]) != tuple(w.shape):
                raise ValueError(
                    f"core adapter {name!r} is {b.shape[0]}x{a.shape[1]}, the weight is "
                    f"{tuple(w.shape)}"
                )
            w.add_((b.float() @ a.float() * scale).to(w.dtype))


# ---------------------------------------------------------------------------- tokenizer


class HfTokenizer:
    """The model's ``tokenizer.json`` (HF ``tokenizers``) plus its chat template.

    Two tokenizer objects: user text is encoded with ``encode_special_tokens`` on (control
    tokens in a message stay text), the template's own pieces with it off."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer
        from transformers import AutoTokenizer

        path = folder / "tokenizer.json"
        self._text = Tokenizer.from_file(str(path))
        self._text.encode_special_tokens = True
        self._template = Tokenizer.from_file(str(path))
        self._hf = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.eos_id = self._hf.eos_token_id
        self.unk_id = self._hf.unk_token_id if self._hf.unk_token_id is not None else 0
        self.has_chat_template = bool(getattr(self._hf, "chat_template", None))
        self._pieces: dict[bool, tuple[list[int], list[int]]] = {}

    @property
    def vocab_size(self) -> int:
        return int(self._text.get_vocab_size(with_added_tokens=True))

    def _check(self, text: str) -> None:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(
                f"text is not valid Unicode for UTF-8 (lone surrogate at index {e.start})"
            ) from e

    def encode(self, text: str) -> list[int]:
        self._check(text)
        return list(self._text.encode(text, add_special_tokens=False).ids)

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        self._check(text)
        enc = self._text.encode(text, add_special_tokens=False)
        return list(enc.ids), [(int(a), int(b)) for a, b in enc.offsets]

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._text.decode(list(ids), skip_special_tokens=False))

    def token_str(self, token_id: int) -> str:
        return self.decode([token_id])

    def special_id(self, token: str) -> int | None:
        return self._template.token_to_id(token)

    def conversation(self, messages: Sequence[tuple[str, str]]) -> list[int]:
        """Ids of a whole conversation ``[(role, text), ...]`` in the chat template, ending
        with the assistant header. The template is rendered once around a sentinel per
        message; every text is encoded with control tokens split, as a single message is."""
        marks = [f"\ue000ttt-message-{i}\ue001" for i in range(len(messages))]
        s = self._hf.apply_chat_template(
            [{"role": r, "content": m} for (r, _), m in zip(messages, marks, strict=True)],
            tokenize=False,
            add_generation_prompt=True,
        )
        if not isinstance(s, str) or any(s.count(m) != 1 for m in marks):
            raise ValueError("the chat template does not place every message once")
        ids: list[int] = []
        rest = s
        for (_, text), mark in zip(messages, marks, strict=True):
            head, rest = rest.split(mark)
            ids += [*self._template.encode(head, add_special_tokens=False).ids, *self.encode(text)]
        return ids + list(self._template.encode(rest, add_special_tokens=False).ids)

    def template_pieces(self, generation: bool) -> tuple[list[int], list[int]]:
        """Ids before and after the user message in a one-message conversation (with the
        assistant header when ``generation``)."""
        if generation not in self._pieces:
            if not self.has_chat_template:
                self._pieces[generation] = ([], [])
            else:
                s = self._hf.apply_chat_template(
                    [{"role": "user", "content": _SENTINEL}],
                    tokenize=False,
                    add_generation_prompt=generation,
                )
                if not isinstance(s, str) or s.count(_SENTINEL) != 1:
                    raise ValueError("the chat template does not place the user message once")
                pre, post = s.split(_SENTINEL)
                enc = self._template.encode
                self._pieces[generation] = (
                    list(enc(pre, add_special_tokens=False).ids),
                    list(enc(post, add_special_tokens=False).ids),
                )
        return self._pieces[generation]


# ---------------------------------------------------------------------------- the backend


@dataclass
class HfPrepared:
    read: Tensor  # (1, L) ids the model reads
    y: Tensor  # (1, K) targets of the last K read positions
    skip_first: bool  # ids[0] has nothing before it (fresh context): loss 0, weight 0
    weights: Tensor | None  # (T,)
    n: int
    next_ctx: tuple[int, ...] = field(default=())


class HfCausalLm:
    """A frozen HF causal LM with LoRA fast weights (module docstring)."""

    backend = BACKEND

    def __init__(
        self,
        model: Any,  # a transformers PreTrainedModel with LoRA injected
        tokenizer: HfTokenizer,
        lora: LoraSettings,
        *,
        model_id: str = "",
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self._tokenizer = tokenizer
        self.lora = lora
        self.model_id = model_id
        self.meta = meta or {}
        self.weights_sha256 = str(self.meta.get("weights_sha256") or "")
        self._plastic: dict[str, nn.Parameter] = {}
        self._lora_modules: list[Any] = []  # peft LoRA layers
        for name, module in model.named_modules():
            if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
                short = name.removeprefix("model.")
                self._lora_modules.append(module)
                self._plastic[f"{short}.lora_A"] = module.lora_A["default"].weight
                self._plastic[f"{short}.lora_B"] = module.lora_B["default"].weight
        if not self._plastic:
            raise ValueError("no LoRA modules were injected (check LoraSettings.targets)")
        for p in model.parameters():
            p.requires_grad_(False)
        for p in self._plastic.values():
            p.requires_grad_(True)
        self._initial = {n: p.detach().clone() for n, p in self._plastic.items()}
        stops = {tokenizer.eos_id}
        for tok in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>"):
            if (i := tokenizer.special_id(tok)) is not None:
                stops.add(i)
        self._stop_ids = frozenset(i for i in stops if i is not None)
        self._merged = False

    @classmethod
    def load(
        cls,
        folder: Path,
        lora: LoraSettings,
        *,
        model_id: str = "",
        meta: dict[str, Any] | None = None,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        core_adapters: Sequence[CoreAdapter] = (),
    ) -> HfCausalLm:
        """Load a float model folder (``config.json`` + safetensors + tokenizer) offline,
        merge the model's own core adapters into its frozen weights (alignment, sleep), and
        inject the LoRA fast weights."""
        quiet_transformers()
        from peft import LoraConfig, inject_adapter_in_model
        from transformers import AutoModelForCausalLM

        try:
            model: Any = AutoModelForCausalLM.from_pretrained(
                str(folder), dtype=dtype, local_files_only=True
            )
            tokenizer = HfTokenizer(folder)
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise CorruptFileError(f"{folder}: cannot load the model ({e})") from e
        model.eval()
        for adapter in core_adapters:
            adapter.merge_into(model)
        n_layers = int(model.config.num_hidden_layers)
        pcfg = LoraConfig(
            r=lora.rank,
            lora_alpha=lora.alpha,  # type: ignore[arg-type]  # peft annotates int, uses float
            target_modules=list(lora.targets),
            layers_to_transform=lora.layer_indices(n_layers),
            lora_dropout=0.0,
            bias="none",
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(lora.seed)  # A's Kaiming init: reproducible from the settings
            model = inject_adapter_in_model(pcfg, model)
        model.to(device)
        return cls(model, tokenizer, lora, model_id=model_id, meta=meta)

    # -- identity -------------------------------------------------------------------------
    @property
    def tokenizer(self) -> HfTokenizer:
        return self._tokenizer

    @property
    def device(self) -> torch.device:
        return next(iter(self._plastic.values())).device

    def describe(self) -> dict[str, Any]:
        cfg = self.model.config
        core = sum(p.numel() for p in self.model.parameters()) - sum(
            p.numel() for p in self._plastic.values()
        )
        return {
            "backend": BACKEND,
            "model_id": self.model_id,
            "architecture": f"{type(self.model).__name__} ({cfg.num_hidden_layers} layers)",
            "backbone": str(cfg.model_type),
            "parameters": core,
            "plastic_parameters": sum(p.numel() for p in self._plastic.values()),
        }

    # -- fast weights ---------------------------------------------------------------------
    def plastic(self) -> dict[str, Tensor]:
        return dict(self._plastic)

    def initial_plastic(self) -> dict[str, Tensor]:
        return {n: t.clone() for n, t in self._initial.items()}

    def plastic_config(self) -> dict[str, Any]:
        return {"kind": "lora", **self.lora.to_dict()}

    @torch.no_grad()
    def set_initial(self, tensors: Mapping[str, Tensor]) -> None:
        """A fresh session's fast weights become ``tensors`` (a sleep's adapter residual)."""
        if set(tensors) != set(self._plastic):
            raise ValueError("the fast-weight start does not fit this model's LoRA layout")
        for n, p in self._plastic.items():
            if tensors[n].shape != p.shape:
                raise ValueError(f"fast-weight start {n!r} has shape {tuple(tensors[n].shape)}")
            self._initial[n] = tensors[n].to(p.device, p.dtype).clone()
            p.copy_(self._initial[n])

    def for_writing(self) -> None:
        self.model.eval()

    # -- examples -------------------------------------------------------------------------
    @property
    def mask_id(self) -> int:
        return self._tokenizer.unk_id

    def fresh_ctx(self) -> tuple[int, ...]:
        return ()

    def prepare(self, ex: Example) -> HfPrepared:
        ctx = tuple(ex.ctx) if ex.ctx is not None else ()
        inputs = ex.inputs if ex.inputs is not None else ex.ids
        seq = [*ctx, *inputs]
        skip_first = not ctx
        if skip_first and len(ex.ids) < 2:
            raise ValueError("an example without context needs at least two tokens")
        keep = len(ex.ids) - (1 if skip_first else 0)
        read = torch.tensor([seq[:-1]], dtype=torch.long, device=self.device)
        y = torch.tensor([ex.ids[len(ex.ids) - keep :]], dtype=torch.long, device=self.device)
        w = ex.weights
        if skip_first:
            w = torch.ones(len(ex.ids)) if w is None else w.clone()
            w[0] = 0.0
        tail = (*ctx, *ex.ids)
        nctx = tail[len(tail) - self.lora.context_tokens :] if self.lora.context_tokens else ()
        return HfPrepared(
            read, y, skip_first, w.to(self.device) if w is not None else None, len(ex.ids), nctx
        )

    def _per_token(self, prep: HfPrepared) -> Tensor:
        keep = prep.y.shape[1]
        logits = self.model(input_ids=prep.read, use_cache=False, logits_to_keep=keep).logits
        per = F.cross_entropy(logits[0].float(), prep.y[0], reduction="none")  # (K,)
        if prep.skip_first:
            per = torch.cat([per.new_zeros(1), per])
        return per  # (T,)

    def token_losses(self, prep: HfPrepared) -> Tensor:
        return self._per_token(prep)

    def write_signals(self, prep: HfPrepared) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        """Loss, LoRA gradients and exact per-token influence (module docstring)."""
        xs: list[Tensor] = []
        outs: list[tuple[Tensor, Tensor]] = []
        hooks = []
        for m in self._lora_modules:
            hooks.append(
                m.lora_A["default"].register_forward_hook(lambda _m, i, _o: xs.append(i[0]))
            )
            hooks.append(
                m.lora_B["default"].register_forward_hook(lambda _m, i, o: outs.append((i[0], o)))
            )
        try:
            per_tok = self._per_token(prep)
        finally:
            for h in hooks:
                h.remove()
        loss = weighted_mean(per_tok, prep.weights)
        params = list(self._plastic.values())
        got = torch.autograd.grad(loss, [*params, *(o for _, o in outs)])
        grads = dict(zip(self._plastic, got[: len(params)], strict=True))
        deltas = got[len(params) :]
        with torch.no_grad():
            sq = torch.zeros(prep.read.shape[1], dtype=torch.float64, device=self.device)
            for m, x, (a, _), d in zip(self._lora_modules, xs, outs, deltas, strict=True):
                b = m.lora_B["default"].weight.double()  # (out, r)
                d64 = d[0].double()  # (L, out)
                sq += d64.pow(2).sum(1) * a[0].double().pow(2).sum(1)
                sq += (d64 @ b).pow(2).sum(1) * x[0].double().pow(2).sum(1)
            keep = prep.y.shape[1]
            infl = sq[sq.shape[0] - keep :].sqrt().float()  # the positions that predict ids
            if prep.skip_first:
                infl = torch.cat([infl.new_zeros(1), infl])
        return loss.detach(), grads, infl.cpu()

    def _padded(self, preps: Sequence[HfPrepared]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Right-padded batch of the examples: read ids (k, L), attention mask (k, L),
        targets (k, L) and loss weights (k, L) aligned with each read position (0 where a
        position predicts nothing)."""
        k, L = len(preps), max(p.read.shape[1] for p in preps)
        read = torch.zeros(k, L, dtype=torch.long, device=self.device)
        mask = torch.zeros(k, L, dtype=torch.long, device=self.device)
        y = torch.zeros(k, L, dtype=torch.long, device=self.device)
        w = torch.zeros(k, L, dtype=torch.float32, device=self.device)
        for i, p in enumerate(preps):
            n, keep = p.read.shape[1], p.y.shape[1]
            read[i, :n] = p.read[0]
            mask[i, :n] = 1
            y[i, n - keep : n] = p.y[0]
            pw = p.weights if p.weights is not None else torch.ones(p.n, device=self.device)
            w[i, n - keep : n] = pw[p.n - keep :].float()
        return read, mask, y, w

    def _batch_per_example(self, preps: Sequence[HfPrepared]) -> Tensor:
        read, mask, y, w = self._padded(preps)
        logits = self.model(input_ids=read, attention_mask=mask, use_cache=False).logits
        per = F.cross_entropy(logits.float().transpose(1, 2), y, reduction="none")  # (k, L)
        return (per * w).sum(1) / w.sum(1).clamp(min=1.0)  # (k,)

    def example_losses(self, preps: Sequence[HfPrepared]) -> Tensor:
        """One padded forward for every example (canary probes, multi-example writes)."""
        if len(preps) == 1:
            return weighted_mean(self._per_token(preps[0]), preps[0].weights).reshape(1)
        return self._batch_per_example(preps)

    def batch_grads(self, preps: Sequence[HfPrepared]) -> dict[str, Tensor]:
        """Every example's own LoRA gradient from one padded forward and backward: rows of a
        batch are independent, so row c's gradient is the sum of its positions' outer
        products (``δ ⊗ a`` for B, ``(Bᵀδ) ⊗ x`` for A); padded positions carry δ = 0."""
        xs: list[Tensor] = []
        outs: list[tuple[Tensor, Tensor]] = []
        hooks = []
        for m in self._lora_modules:
            hooks.append(
                m.lora_A["default"].register_forward_hook(lambda _m, i, _o: xs.append(i[0]))
            )
            hooks.append(
                m.lora_B["default"].register_forward_hook(lambda _m, i, o: outs.append((i[0], o)))
            )
        try:
            losses = self._batch_per_example(preps)
        finally:
            for h in hooks:
                h.remove()
        deltas = torch.autograd.grad(losses.sum(), [o for _, o in outs])
        out: dict[str, Tensor] = {}
        names = list(self._plastic)
        with torch.no_grad():
            for j, (m, x, (a, _), d) in enumerate(
                zip(self._lora_modules, xs, outs, deltas, strict=True)
            ):
                b = m.lora_B["default"].weight  # (out, r)
                out[names[2 * j]] = torch.einsum("kpr,kpi->kri", d @ b, x)  # (k, r, in)
                out[names[2 * j + 1]] = torch.einsum("kpo,kpr->kor", d, a)  # (k, out, r)
        return out

    # -- chat and generation --------------------------------------------------------------
    def chat_pieces(self, generation: bool) -> tuple[list[int], list[int]]:
        return self._tokenizer.template_pieces(generation)

    @torch.no_grad()
    def prefill(self, ids: Sequence[int]) -> tuple[Tensor, Any]:
        from transformers import DynamicCache

        if not ids:
            raise ValueError("an HF model needs a non-empty prompt to continue")
        cache = DynamicCache(config=self.model.config)
        x = torch.tensor([list(ids)], dtype=torch.long, device=self.device)
        out = self.model(input_ids=x, past_key_values=cache, use_cache=True, logits_to_keep=1)
        return out.logits[:, -1].float(), cache

    @torch.no_grad()
    def step(self, token: Tensor, state: Any) -> tuple[Tensor, Any]:
        out = self.model(input_ids=token.view(1, 1), past_key_values=state, use_cache=True)
        return out.logits[:, -1].float(), state

    @torch.no_grad()
    def greedy_batch(self, prompts: Sequence[Sequence[int]], max_tokens: int) -> list[list[int]]:
        """Greedy continuations of several prompts in one left-padded batch (KV cache;
        position ids count real tokens only, so each row sees what it would see alone).
        Each row stops at its first stop id. Call under ``inference()`` for merged LoRA."""
        from transformers import DynamicCache

        if not prompts or any(not p for p in prompts):
            raise ValueError("greedy_batch needs non-empty prompts")
        n, width = len(prompts), max(len(p) for p in prompts)
        pad = self._tokenizer.eos_id or 0
        x = torch.full((n, width), pad, dtype=torch.long, device=self.device)  # (B, L)
        mask = torch.zeros((n, width), dtype=torch.long, device=self.device)
        for i, p in enumerate(prompts):
            x[i, width - len(p) :] = torch.tensor(list(p), dtype=torch.long)
            mask[i, width - len(p) :] = 1
        pos = (mask.cumsum(-1) - 1).clamp(min=0)  # (B, L)
        cache = DynamicCache(config=self.model.config)
        out = self.model(
            input_ids=x, attention_mask=mask, position_ids=pos, past_key_values=cache,
            use_cache=True, logits_to_keep=1,
        )  # fmt: skip
        ids: list[list[int]] = [[] for _ in range(n)]
        live = [True] * n
        nxt = pos[:, -1:] + 1  # (B, 1)
        for step in range(max_tokens):
            tok = out.logits[:, -1].float().argmax(-1)  # (B,)
            for i in range(n):
                if live[i]:
                    if int(tok[i]) in self._stop_ids:
                        live[i] = False
                    else:
                        ids[i].append(int(tok[i]))
            if not any(live) or step + 1 == max_tokens:
                break
            mask = torch.cat([mask, torch.ones((n, 1), dtype=mask.dtype, device=mask.device)], 1)
            out = self.model(
                input_ids=tok.view(n, 1), attention_mask=mask, position_ids=nxt,
                past_key_values=cache, use_cache=True,
            )  # fmt: skip
            nxt = nxt + 1
        return ids

    @property
    def stop_ids(self) -> frozenset[int]:
        return self._stop_ids

    @property
    def banned_ids(self) -> tuple[int, ...]:
        return ()

    @contextlib.contextmanager
    def inference(self) -> Iterator[None]:
        """LoRA merged into copies of the base weights, adapters off; restored on exit."""
        if self._merged:
            yield
            return
        saved: list[tuple[Any, nn.Parameter]] = []
        try:
            with torch.no_grad():
                for m in self._lora_modules:
                    base = m.get_base_layer()
                    w = base.weight
                    merged = w + m.get_delta_weight("default").to(w.dtype)
                    saved.append((m, w))
                    base.weight = nn.Parameter(merged, requires_grad=False)
                    m.enable_adapters(False)
            self._merged = True
            yield
        finally:
            for m, w in saved:
                m.get_base_layer().weight = w
                m.enable_adapters(True)
            for p in self._plastic.values():
                p.requires_grad_(True)
            self._merged = False
