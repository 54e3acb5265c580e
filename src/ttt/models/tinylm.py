"""TinyLm: embedding → recurrent backbone → context net → LayerNorm → head. No attention.

Data flow for a batch of token ids ``(B, T)``::

    x = embed(tokens)                       (B, T, D)
    x, state = backbone(x, state)           (B, T, D)   diagonal selective SSM (default) or GRU
    x = x + context(x)                      (B, T, D)   per-session fast weights, zero at init
    logits = head(norm(x))                  (B, T, V)

**Selective SSM** (one mixer per block, pre-LayerNorm residual blocks with an MLP)::

    v, z, dt_raw = split(W_in u)            (B, T, E) each, E = expand · D
    dt  = softplus(dt_raw + dt_bias)        input-dependent step size, > 0
    a   = exp(−dt · exp(a_log))             per-token, per-channel decay in (0, 1)
    h_t = a_t ⊙ h_{t−1} + (1 − a_t) ⊙ v_t   an input-gated EMA: |h| ≤ max |v|, never explodes
    y   = W_out (h ⊙ silu(z))

The recurrence ``h_t = a_t h_{t−1} + b_t`` is evaluated by ``scan``: a chunked parallel prefix
(Hillis–Steele inside chunks, the same scan across chunk ends) that only *multiplies* decays.
It never divides by a cumulative decay product (the closed form ``h_t = P_t Σ b_s / P_s`` of
the original system underflowed to exactly zero after a few tokens), so it agrees with the
step-by-step ``scan_reference`` to float rounding on sequences of any length.

**Stateful generation:** ``step(token, state)`` advances every layer by one token, so each new
token costs one step, not a re-run of the prefix; ``forward`` on the full sequence gives the
same logits (tested).

**Plastic part:** ``plastic_parameters()`` names the context net (a zero-initialised low-rank
adapter ``Δx = U (D x)``, ``U`` zero); everything else is core and never changes at inference
(``freeze_core()``).

    model = TinyLm(TinyLmConfig(vocab_size=512), seed=0)
    logits, state = model(tokens)                      # (B, T, V), per-layer state
    logits, state = model.step(next_token, state)      # (B, V), one token
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ttt.configs import check_float, check_int, from_dict

BACKBONES = ("ssm", "gru")
PLASTIC_PREFIX = "context."


@dataclass(frozen=True)
class TinyLmConfig:
    """Shapes of a TinyLm. ``vocab_size`` must match the tokenizer."""

    vocab_size: int = 4096
    d_model: int = 256
    n_layers: int = 4
    backbone: str = "ssm"  # "ssm" (diagonal selective SSM) or "gru"
    ssm_expand: int = 2  # SSM channels E = ssm_expand · d_model
    mlp_mult: int = 4  # hidden width of each SSM block's MLP, in units of d_model; 0 = no MLP
    dt_min: float = 1e-3  # SSM step sizes are initialised log-spaced in [dt_min, dt_max]:
    dt_max: float = 0.5  # memory time scales from ~1/dt_max to ~1/dt_min tokens
    context_rank: int = 8  # rank of the per-session context net (the plastic part)

    def __post_init__(self) -> None:
        for name, lo, hi in (
            ("vocab_size", 1, 1_000_000), ("d_model", 1, 65_536), ("n_layers", 1, 1024),
            ("ssm_expand", 1, 64), ("mlp_mult", 0, 64), ("context_rank", 1, 65_536),
        ):  # fmt: skip
            check_int(f"TinyLmConfig.{name}", getattr(self, name), lo=lo, hi=hi)
        if self.backbone not in BACKBONES:
            raise ValueError(
                f"TinyLmConfig.backbone must be one of {BACKBONES}, got {self.backbone!r}"
            )
        check_float("TinyLmConfig.dt_min", self.dt_min, lo=0.0, lo_open=True, hi=100.0)
        check_float("TinyLmConfig.dt_max", self.dt_max, lo=0.0, lo_open=True, hi=100.0)
        if self.dt_min > self.dt_max:
            raise ValueError(
                f"TinyLmConfig needs dt_min <= dt_max, got dt_min={self.dt_min!r}, "
                f"dt_max={self.dt_max!r}"
            )
        if self.context_rank > self.d_model:
            raise ValueError(
                f"TinyLmConfig.context_rank ({self.context_rank}) must be <= d_model "
                f"({self.d_model})"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TinyLmConfig:
        return from_dict(cls, d, "TinyLmConfig")


# ---------------------------------------------------------------------------- the scan


def _chunk_prefix(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Inclusive prefix inside each chunk, a and b: (B, n, C, E), from a zero state.

    Hillis–Steele over the associative pairs (a, b) ∘ (a', b') = (a a', a' b + b'): after the
    level with offset k every position holds the composition of its last 2k steps. Returns
    (decay product since the chunk start, state reached from zero), both (B, n, C, E)."""
    C = a.shape[2]
    k = 1
    while k < C:
        b = torch.cat([b[:, :, :k], torch.addcmul(b[:, :, k:], a[:, :, k:], b[:, :, :-k])], 2)
        a = torch.cat([a[:, :, :k], a[:, :, k:] * a[:, :, :-k]], 2)
        k *= 2
    return a, b


def scan(a: Tensor, b: Tensor, h0: Tensor | None = None, chunk: int = 16) -> Tensor:
    """All states of ``h_t = a_t ⊙ h_{t-1} + b_t`` along dim 1.

    a, b: (B, T, E); h0: (B, E) or None (zeros). Returns h: (B, T, E).

    Two levels: a parallel prefix inside chunks of ``chunk`` steps (``_chunk_prefix``), then
    the chunk-end states by the same scan over the T/chunk chunks (recursively), then each
    chunk's carried-in state times its running decay product is added. Work O(T log chunk).
    Only products of decays are formed — never a division by one — so a product that
    underflows to 0 contributes exactly what it should: nothing.
    """
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"scan needs a and b of equal shape (B, T, E), got {a.shape}, {b.shape}")
    B, T, E = a.shape
    n = -(-T // chunk)
    if n * chunk != T:  # pad with identity steps (a = 1, b = 0)
        a = F.pad(a, (0, 0, 0, n * chunk - T), value=1.0)
        b = F.pad(b, (0, 0, 0, n * chunk - T))
    decay, h = _chunk_prefix(a.view(B, n, chunk, E), b.view(B, n, chunk, E))
    if n > 1 or h0 is not None:
        first = h0 if h0 is not None else torch.zeros_like(h[:, 0, 0])  # (B, E)
        carry = first.unsqueeze(1)  # (B, 1, E): state entering chunk 0
        if n > 1:
            ends = scan(decay[:, :-1, -1], h[:, :-1, -1], h0, chunk)  # (B, n-1, E)
            carry = torch.cat([carry, ends], dim=1)  # (B, n, E): state entering each chunk
        h = h + decay * carry.unsqueeze(2)
    return h.reshape(B, n * chunk, E)[:, :T]


def scan_reference(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """The same recurrence one step at a time (the definition ``scan`` is tested against)."""
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    out = []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]  # (B, E)
        out.append(h)
    return torch.stack(out, dim=1)


# ---------------------------------------------------------------------------- SSM backbone


def _inv_softplus(x: Tensor) -> Tensor:
    return x + torch.log(-torch.expm1(-x))


class SelectiveSSM(nn.Module):
    """Diagonal selective SSM mixer: input-dependent decay, EMA input gate, SiLU output gate."""

    def __init__(self, d_model: int, expand: int, dt_min: float, dt_max: float) -> None:
        super().__init__()
        e = expand * d_model
        self.in_proj = nn.Linear(d_model, 3 * e, bias=False)
        # Deterministic spread of time scales (no RNG): log-spaced step sizes per channel.
        dt = torch.exp(torch.linspace(math.log(dt_min), math.log(dt_max), e))
        self.dt_bias = nn.Parameter(_inv_softplus(dt))  # (E,)
        self.a_log = nn.Parameter(torch.zeros(e))  # (E,) per-channel rate scale exp(a_log)
        self.out_proj = nn.Linear(e, d_model, bias=False)
        self.n_channels = e

    def coeffs(self, u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Decay a, input b and gate z for inputs u (..., D); each (..., E)."""
        v, z, dt_raw = self.in_proj(u).chunk(3, dim=-1)
        dt = F.softplus(dt_raw + self.dt_bias)
        log_a = -dt * self.a_log.exp()  # <= 0
        a = log_a.exp()
        b = -torch.expm1(log_a) * v  # (1 - a) v, computed without cancellation for small dt
        return a, b, z

    def forward(self, u: Tensor, h0: Tensor) -> tuple[Tensor, Tensor]:
        """u: (B, T, D), h0: (B, E) -> y: (B, T, D), last state (B, E)."""
        a, b, z = self.coeffs(u)
        h = scan(a, b, h0)  # (B, T, E)
        return self.out_proj(h * F.silu(z)), h[:, -1]

    def step(self, u: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """u: (B, D), h: (B, E) -> y: (B, D), new state (B, E)."""
        a, b, z = self.coeffs(u)
        h = a * h + b
        return self.out_proj(h * F.silu(z)), h


class SSMBlock(nn.Module):
    """Pre-norm residual block: x + SSM(norm(x)), then x + MLP(norm(x))."""

    def __init__(self, cfg: TinyLmConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.norm1 = nn.LayerNorm(d)
        self.mixer = SelectiveSSM(d, cfg.ssm_expand, cfg.dt_min, cfg.dt_max)
        self.mlp_in: nn.Linear | None = None
        self.mlp_out: nn.Linear | None = None
        if cfg.mlp_mult:
            self.norm2 = nn.LayerNorm(d)
            self.mlp_in = nn.Linear(d, cfg.mlp_mult * d, bias=False)
            self.mlp_out = nn.Linear(cfg.mlp_mult * d, d, bias=False)

    def _mlp(self, x: Tensor) -> Tensor:
        if self.mlp_in is None or self.mlp_out is None:
            return x
        return x + self.mlp_out(F.gelu(self.mlp_in(self.norm2(x))))

    def forward(self, x: Tensor, h0: Tensor) -> tuple[Tensor, Tensor]:
        y, h = self.mixer(self.norm1(x), h0)
        return self._mlp(x + y), h

    def step(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        y, h = self.mixer.step(self.norm1(x), h)
        return self._mlp(x + y), h


class SSMBackbone(nn.Module):
    """A stack of SSM blocks; the state is every layer's SSM channels, (L, B, E)."""

    def __init__(self, cfg: TinyLmConfig) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(SSMBlock(cfg) for _ in range(cfg.n_layers))
        self.state_dim = cfg.ssm_expand * cfg.d_model

    @property
    def layers(self) -> list[SSMBlock]:
        return cast("list[SSMBlock]", list(self.blocks))

    def forward(self, x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        new = []
        for i, block in enumerate(self.layers):
            x, h = block(x, state[i])
            new.append(h)
        return x, torch.stack(new)

    def step(self, x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        new = []
        for i, block in enumerate(self.layers):
            x, h = block.step(x, state[i])
            new.append(h)
        return x, torch.stack(new)


class GRUBackbone(nn.Module):
    """``torch.nn.GRU`` over the embeddings; the state is its hidden state, (L, B, D)."""

    def __init__(self, cfg: TinyLmConfig) -> None:
        super().__init__()
        self.gru = nn.GRU(cfg.d_model, cfg.d_model, num_layers=cfg.n_layers, batch_first=True)
        self.state_dim = cfg.d_model

    def forward(self, x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        out, h = self.gru(x, state.contiguous())
        return out, h

    def step(self, x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        out, h = self.gru(x.unsqueeze(1), state.contiguous())
        return out[:, 0], h


# ---------------------------------------------------------------------------- context net


class ContextNet(nn.Module):
    """Zero-initialised low-rank adapter ``Δx = up(down(x))``: the per-session fast weights.

    ``down`` (r, D) is a fixed random projection at init; ``up`` (D, r) starts at zero, so a
    fresh context net changes nothing. Both are 2-D, so Muon can write them."""

    def __init__(self, d_model: int, rank: int) -> None:
        super().__init__()
        self.down = nn.Parameter(torch.randn(rank, d_model) / math.sqrt(d_model))
        self.up = nn.Parameter(torch.zeros(d_model, rank))

    def forward(self, x: Tensor) -> Tensor:
        return (x @ self.down.T) @ self.up.T  # (..., D)


# ---------------------------------------------------------------------------- the model


class TinyLm(nn.Module):
    """Recurrent language model; see the module docstring for the data flow."""

    def __init__(self, cfg: TinyLmConfig, seed: int = 0) -> None:
        super().__init__()
        self.cfg = cfg
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
            self.backbone: SSMBackbone | GRUBackbone = (
                SSMBackbone(cfg) if cfg.backbone == "ssm" else GRUBackbone(cfg)
            )
            self.context = ContextNet(cfg.d_model, cfg.context_rank)
            self.norm = nn.LayerNorm(cfg.d_model)
            self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
            self._init_weights()

    @torch.no_grad()
    def _init_weights(self) -> None:
        nn.init.normal_(self.embed.weight, std=1.0)
        nn.init.zeros_(self.head.weight)  # uniform predictions at step 0: loss = ln V
        if isinstance(self.backbone, SSMBackbone):
            for block in self.backbone.layers:
                # Residual branches start as the identity (nanochat-style zero projections).
                nn.init.zeros_(block.mixer.out_proj.weight)
                if block.mlp_out is not None:
                    nn.init.zeros_(block.mlp_out.weight)

    # ------------------------------------------------------------------------ state

    def init_state(self, batch: int, device: torch.device | str | None = None) -> Tensor:
        """Zero recurrent state for ``batch`` sequences: (n_layers, B, state_dim)."""
        dev = device if device is not None else self.embed.weight.device
        dtype = self.embed.weight.dtype
        return torch.zeros(
            self.cfg.n_layers, batch, self.backbone.state_dim, device=dev, dtype=dtype
        )

    # ------------------------------------------------------------------------ compute

    def features(self, tokens: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Backbone output (before the context net) for tokens (B, T): ((B, T, D), state)."""
        if tokens.ndim != 2:
            raise ValueError(f"tokens must be (B, T), got shape {tuple(tokens.shape)}")
        if state is None:
            state = self.init_state(tokens.shape[0], tokens.device)
        return self.backbone(self.embed(tokens), state)

    def logits_from(self, x: Tensor) -> Tensor:
        """Context net, LayerNorm and head on backbone output (..., D) -> (..., V)."""
        return self.head(self.norm(x + self.context(x)))

    def forward(self, tokens: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """tokens (B, T) -> logits (B, T, V), state after the last token."""
        x, state = self.features(tokens, state)
        return self.logits_from(x), state

    def step(self, token: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """One token per sequence: token (B,) -> logits (B, V), new state. O(1) in the prefix."""
        if token.ndim != 1:
            raise ValueError(f"step needs token ids of shape (B,), got {tuple(token.shape)}")
        x, state = self.backbone.step(self.embed(token), state)
        return self.logits_from(x), state

    # ------------------------------------------------------------------------ plasticity

    def plastic_parameters(self) -> dict[str, nn.Parameter]:
        """The per-session fast weights by name (the only params an update may write)."""
        return {name: p for name, p in self.named_parameters() if name.startswith(PLASTIC_PREFIX)}

    def core_named_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """Every parameter except the context net (trained offline, frozen at inference)."""
        return [(n, p) for n, p in self.named_parameters() if not n.startswith(PLASTIC_PREFIX)]

    def freeze_core(self) -> None:
        """Inference mode for TTT: core weights get no gradient; the context net does."""
        for name, p in self.named_parameters():
            p.requires_grad_(name.startswith(PLASTIC_PREFIX))

    @torch.no_grad()
    def reset_context(self) -> None:
        """Zero the context net's output (``up`` = 0): a fresh session."""
        self.context.up.zero_()

    def num_params(self, *, core_only: bool = True) -> int:
        params = self.core_named_parameters() if core_only else list(self.named_parameters())
        return sum(p.numel() for _, p in params)
