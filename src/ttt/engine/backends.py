"""Plastic-state backends: where the fast weights and the optimiser state live.

The transaction (``ttt.engine.transaction``) only talks to this small interface, so the same
transaction runs

* one session whose fast weights are ordinary 2-D tensors stepped by ``torch.optim.Muon``
  (``TorchOptimBackend``; Nano sessions, Sentry, chat), and
* a stack of S independent sessions with fast weights of shape ``(S, rows, cols)`` stepped by
  the batched Muon of ``ttt.optim`` (``BatchedMuonBackend``; Nano sweeps).

Snapshots are clones; a restore copies them back, so a rollback is bit-exact for weights and
optimiser state (including "no momentum buffer yet").
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from ttt.optim import MuonConfig, batched_muon_step


class PlasticBackend(ABC):
    """Fast weights of S sessions plus their optimiser state."""

    n_sessions: int

    @property
    @abstractmethod
    def params(self) -> dict[str, Tensor]:
        """Named leaf tensors that require grad (the plastic state)."""

    @abstractmethod
    def step(self, lr: Tensor, active: Tensor) -> None:
        """One optimiser step with per-session lr (S,) for sessions where active (S,) holds."""

    @abstractmethod
    def snapshot(self) -> Any:
        """An opaque copy of weights and optimiser state."""

    @abstractmethod
    def restore(self, snap: Any, mask: Tensor) -> None:
        """Bit-exactly restore sessions where mask (S,) holds from ``snap``."""

    @abstractmethod
    def grad_norms(self) -> Tensor:
        """Per-session gradient norm over all plastic tensors, (S,) float64."""

    @abstractmethod
    def weights_of(self, snap: Any) -> dict[str, Tensor]:
        """The weights stored in a snapshot, shaped like ``params``."""

    @abstractmethod
    def optimizer_state(self) -> dict[str, Tensor]:
        """Optimiser state as named tensors (for safetensors)."""

    @abstractmethod
    def load_optimizer_state(self, state: Mapping[str, Tensor]) -> None: ...

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None

    def delta_norms(self, before: Mapping[str, Tensor]) -> Tensor:
        """Per-session Frobenius norm of (current - before) over all plastic tensors."""
        total = torch.zeros(self.n_sessions, dtype=torch.float64)
        for name, p in self.params.items():
            d = (p.detach() - before[name]).double()
            total += d.reshape(self.n_sessions, -1).pow(2).sum(dim=1)
        return total.sqrt()

    @abstractmethod
    def set_weights(self, weights: Mapping[str, Tensor], mask: Tensor) -> None:
        """Overwrite the weights of sessions where mask (S,) holds (used by projections)."""


class TorchOptimBackend(PlasticBackend):
    """One session: 2-D fast weights and any ``torch.optim`` optimiser (Muon by default)."""

    def __init__(self, params: Mapping[str, Tensor], optimizer: torch.optim.Optimizer) -> None:
        self.n_sessions = 1
        self._params = dict(params)
        self.optimizer = optimizer
        for name, p in self._params.items():
            if not p.requires_grad or not p.is_leaf:
                raise ValueError(f"plastic tensor {name!r} must be a leaf with requires_grad")

    @classmethod
    def muon(cls, params: Mapping[str, Tensor], cfg: MuonConfig) -> TorchOptimBackend:
        return cls(params, cfg.make(params.values()))

    @property
    def params(self) -> dict[str, Tensor]:
        return self._params

    def step(self, lr: Tensor, active: Tensor) -> None:
        if not bool(active[0]):
            return
        for group in self.optimizer.param_groups:
            group["lr"] = float(lr[0])
        self.optimizer.step()

    def snapshot(self) -> Any:
        weights = {n: p.detach().clone() for n, p in self._params.items()}
        state = {
            id(p): copy.deepcopy(self.optimizer.state[p]) if p in self.optimizer.state else None
            for p in self._params.values()
        }
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        return weights, state, lrs

    @torch.no_grad()
    def restore(self, snap: Any, mask: Tensor) -> None:
        if not bool(mask[0]):
            return
        weights, state, lrs = snap
        for n, p in self._params.items():
            p.copy_(weights[n])
            saved = state[id(p)]
            if saved is None:
                self.optimizer.state.pop(p, None)
            else:
                self.optimizer.state[p] = copy.deepcopy(saved)
        for g, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            g["lr"] = lr

    def grad_norms(self) -> Tensor:
        sq = torch.zeros((), dtype=torch.float64)
        for p in self._params.values():
            if p.grad is not None:
                sq = sq + p.grad.double().pow(2).sum()
        return sq.sqrt().reshape(1)

    def weights_of(self, snap: Any) -> dict[str, Tensor]:
        return dict(snap[0])

    @torch.no_grad()
    def set_weights(self, weights: Mapping[str, Tensor], mask: Tensor) -> None:
        if bool(mask[0]):
            for n, p in self._params.items():
                p.copy_(weights[n])

    def optimizer_state(self) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for n, p in self._params.items():
            st = self.optimizer.state.get(p, {})
            for k, v in st.items():
                if isinstance(v, Tensor):
                    out[f"{n}.{k}"] = v.detach().clone()
        return out

    def load_optimizer_state(self, state: Mapping[str, Tensor]) -> None:
        for n, p in self._params.items():
            entries = {
                k[len(n) + 1 :]: v.clone() for k, v in state.items() if k.startswith(f"{n}.")
            }
            if entries:
                self.optimizer.state[p] = entries
            else:
                self.optimizer.state.pop(p, None)


class BatchedMuonBackend(PlasticBackend):
    """S sessions at once: fast weights (S, rows, cols), Muon math identical per session."""

    def __init__(self, params: Mapping[str, Tensor], cfg: MuonConfig) -> None:
        self.cfg = cfg
        self._params = dict(params)
        sizes = {p.shape[0] for p in self._params.values()}
        if len(sizes) != 1:
            raise ValueError(f"all batched plastic tensors need the same S, got {sizes}")
        self.n_sessions = sizes.pop()
        for name, p in self._params.items():
            if p.ndim != 3 or not p.requires_grad or not p.is_leaf:
                raise ValueError(f"batched plastic tensor {name!r} must be a (S, r, c) leaf")
        self.bufs = {n: torch.zeros_like(p, requires_grad=False) for n, p in params.items()}

    @property
    def params(self) -> dict[str, Tensor]:
        return self._params

    @torch.no_grad()
    def step(self, lr: Tensor, active: Tensor) -> None:
        mask = active.view(-1, 1, 1)
        everyone = bool(active.all())
        for n, p in self._params.items():
            if p.grad is None:
                continue
            if everyone:
                batched_muon_step(p.data, p.grad, self.bufs[n], lr, self.cfg)
                continue
            old_p = p.detach().clone()
            old_b = self.bufs[n].clone()
            batched_muon_step(p.data, p.grad, self.bufs[n], lr, self.cfg)
            p.copy_(torch.where(mask, p, old_p))
            self.bufs[n].copy_(torch.where(mask, self.bufs[n], old_b))

    def snapshot(self) -> Any:
        return (
            {n: p.detach().clone() for n, p in self._params.items()},
            {n: b.clone() for n, b in self.bufs.items()},
        )

    @torch.no_grad()
    def restore(self, snap: Any, mask: Tensor) -> None:
        weights, bufs = snap
        m = mask.view(-1, 1, 1)
        for n, p in self._params.items():
            p.copy_(torch.where(m, weights[n], p))
            self.bufs[n].copy_(torch.where(m, bufs[n], self.bufs[n]))

    def grad_norms(self) -> Tensor:
        sq = torch.zeros(self.n_sessions, dtype=torch.float64)
        for p in self._params.values():
            if p.grad is not None:
                sq += p.grad.double().pow(2).sum(dim=(1, 2))
        return sq.sqrt()

    def weights_of(self, snap: Any) -> dict[str, Tensor]:
        return dict(snap[0])

    @torch.no_grad()
    def set_weights(self, weights: Mapping[str, Tensor], mask: Tensor) -> None:
        m = mask.view(-1, 1, 1)
        for n, p in self._params.items():
            p.copy_(torch.where(m, weights[n], p))

    def optimizer_state(self) -> dict[str, Tensor]:
        return {f"{n}.momentum_buffer": b.clone() for n, b in self.bufs.items()}

    def load_optimizer_state(self, state: Mapping[str, Tensor]) -> None:
        for n in self.bufs:
            key = f"{n}.momentum_buffer"
            if key in state:
                self.bufs[n] = state[key].clone()
            else:
                self.bufs[n] = torch.zeros_like(self.bufs[n])
