"""Data-parallel training with ``torch.distributed``: one process per CPU/GPU, same update.

    torchrun --nproc-per-node 2 -m ttt lm train --preset demo --threads 1

Every process draws the same seeded global batch, keeps its own slice of it (``shard``),
runs forward and backward on that slice and averages the gradients (and the loss) with one
all-reduce before clipping (``all_reduce_mean``), so all processes apply the identical
update and the global batch is the single-process one. Rank 0 alone prepares the data, holds
the model's lock and writes meta, logs and checkpoints; the others only read the artifact
root, which must therefore be the same files on every machine (a shared filesystem).

The process group comes from torchrun's environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``): gloo on CPU, NCCL on CUDA, one GPU per
process (``cuda:<LOCAL_RANK>``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor

T = TypeVar("T")
ENV_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


class DistributedError(RuntimeError):
    """Another process of a data-parallel run failed, or the launch is misconfigured."""


def launched_by_torchrun() -> bool:
    """True when the environment names this process's rank in a group (torchrun sets it)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def env_rank() -> int:
    """This process's rank from the environment (0 when not launched as a group)."""
    return int(os.environ.get("RANK", "0")) if launched_by_torchrun() else 0


@dataclass(frozen=True)
class DataParallel:
    """This process's place in the group, and the collectives training needs.

    ``device`` is where this process's tensors live (``cuda:<local rank>`` under NCCL)."""

    rank: int
    world_size: int
    local_rank: int
    device: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, batch: Tensor) -> Tensor:
        """This rank's contiguous slice of a global batch (B, ...) → (B / world_size, ...)."""
        n = batch.shape[0]
        if n % self.world_size:
            raise ValueError(
                f"batch_size {n} is not divisible by the {self.world_size} data-parallel "
                "processes; pick a multiple"
            )
        per = n // self.world_size
        return batch[self.rank * per : (self.rank + 1) * per]

    def all_reduce_mean(self, tensors: list[Tensor]) -> None:
        """Average ``tensors`` across processes in place: one all-reduce per dtype over a flat
        buffer (a reduction per parameter would be latency-bound for small models)."""
        by_dtype: dict[torch.dtype, list[Tensor]] = {}
        for t in tensors:
            by_dtype.setdefault(t.dtype, []).append(t)
        for group in by_dtype.values():
            flat = torch.cat([t.reshape(-1) for t in group])
            dist.all_reduce(flat)  # sum
            flat /= self.world_size
            offset = 0
            for t in group:
                t.copy_(flat[offset : offset + t.numel()].view_as(t))
                offset += t.numel()

    def any(self, flag: bool) -> bool:
        """True on every process when ``flag`` is true on any (e.g. a stop request), so all
        of them leave the loop at the same step."""
        t = torch.tensor([int(flag)], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def from_main(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on rank 0 and give its result to every process. If it raises, rank 0
        re-raises it and the others raise ``DistributedError`` naming it, instead of waiting
        forever for a result that will not come."""
        box: list[Any] = [None]
        if self.is_main:
            try:
                box[0] = ("ok", fn())
            except BaseException as e:
                box[0] = ("error", f"{type(e).__name__}: {e}")
                dist.broadcast_object_list(box, src=0)
                raise
        dist.broadcast_object_list(box, src=0)
        kind, value = box[0]
        if kind == "error":
            raise DistributedError(f"rank 0 failed: {value}")
        return value


@contextmanager
def data_parallel(
    device: str = "cpu", enabled: bool | None = None
) -> Iterator[DataParallel | None]:
    """Join the process group for the duration of a run; yields None for single-process runs.

    ``enabled=None``: join when launched by torchrun. A group already initialised by the
    caller is reused and left alone; one made here is destroyed on the way out, on errors
    too."""
    if enabled is None:
        enabled = launched_by_torchrun()
    if not enabled:
        yield None
        return
    if not dist.is_available():
        raise DistributedError("this torch build has no torch.distributed")
    cuda = device.startswith("cuda")
    owned = not dist.is_initialized()
    if owned:
        missing = [v for v in ENV_VARS if v not in os.environ]
        if missing:
            raise DistributedError(
                f"data-parallel training needs {', '.join(missing)} in the environment; "
                "launch it with torchrun (see the README)"
            )
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        if not torch.cuda.is_available():
            raise DistributedError("--device cuda but CUDA is not available")
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(device)  # NCCL and object collectives use the current device
    if owned:
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    try:
        yield DataParallel(dist.get_rank(), dist.get_world_size(), local_rank, device)
    finally:
        if owned and dist.is_initialized():
            dist.destroy_process_group()
