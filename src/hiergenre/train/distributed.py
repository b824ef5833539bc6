"""DistributedDataParallel under torchrun, and the epoch sampler shared with single-process runs.

The sampler makes a run's batches independent of the number of processes: every epoch has one
global order (from seed and epoch), cut into global batches of `batch_size`; with N processes,
rank r takes every N-th sample of each global batch and DDP averages the gradients. For a model
without batch statistics the N-process update equals the one-process update up to float error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from hiergenre.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job: rank, world size, local rank; `is_main` writes files."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_type: str) -> DistContext:
    """Join the process group torchrun describes in the environment (a no-op when alone)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    log.info("process %d of %d (local rank %d)", rank, world, local)
    return DistContext(rank, world, local)


def is_main_process() -> bool:
    """Rank 0 (or no torchrun at all), from the environment."""
    return int(os.environ.get("RANK", "0")) == 0


def barrier(ctx: DistContext) -> None:
    """Wait for every process (a no-op when alone)."""
    if ctx.enabled:
        dist.barrier()


def broadcast_flag(ctx: DistContext, flag: bool) -> bool:
    """True on every rank if any rank says True (e.g. a non-finite loss)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def gather_rows(ctx: DistContext, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Reassemble arrays evaluated on `rows[rank::world]` shards into the full row order."""
    if not ctx.enabled:
        return arrays
    parts: list[list[np.ndarray] | None] = [None] * ctx.world_size
    dist.all_gather_object(parts, arrays)
    out = []
    for i in range(len(arrays)):
        shards = [p[i] for p in parts]  # type: ignore[index]
        total = sum(len(s) for s in shards)
        full = np.empty((total, *shards[0].shape[1:]), dtype=shards[0].dtype)
        for r, shard in enumerate(shards):
            full[r :: ctx.world_size] = shard
        out.append(full)
    return out


def epoch_order(
    n: int, seed: int, epoch: int, weights: np.ndarray | None = None, shuffle: bool = True
) -> np.ndarray:
    """The global sample order of one epoch: a permutation, or weighted draws with replacement."""
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    if weights is not None:
        w = torch.as_tensor(weights, dtype=torch.double)
        return torch.multinomial(w, n, replacement=True, generator=g).numpy()
    return torch.randperm(n, generator=g).numpy() if shuffle else np.arange(n)


class EpochSampler(Sampler[int]):
    """Deterministic per-epoch order (call `set_epoch`), full global batches, rank-strided."""

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int,
        ctx: DistContext = DistContext(),
        weights: np.ndarray | None = None,
    ):
        if batch_size % ctx.world_size:
            raise ConfigError(
                f"`batch_size` {batch_size} must be a multiple of the {ctx.world_size} processes"
            )
        self.n, self.batch_size, self.seed, self.ctx, self.weights = (
            n,
            batch_size,
            seed,
            ctx,
            weights,
        )
        self.epoch = 0
        # Drop the last partial batch so every rank sees equal, non-empty shards (and no
        # batch-norm layer gets a batch of one); keep it when the set is smaller than a batch.
        self.used = (n // batch_size) * batch_size if n >= batch_size else n

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.used // self.ctx.world_size

    def __iter__(self) -> Iterator[int]:
        order = epoch_order(self.n, self.seed, self.epoch, self.weights)[: self.used]
        size = self.batch_size if self.used >= self.batch_size else self.used
        for start in range(0, self.used, size):
            batch = order[start : start + size]
            yield from batch[self.ctx.rank :: self.ctx.world_size].tolist()


def cleanup(ctx: DistContext) -> None:
    """Leave the process group at the end of a run (after a barrier: a gloo process torn down
    while its peer is still talking to it aborts)."""
    if ctx.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
