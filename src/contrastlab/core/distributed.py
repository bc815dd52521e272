"""Cross-process helpers for losses whose negatives come from the batch (PyTorch DDP, any backend).

In one process, or before ``torch.distributed`` is initialised, every helper is the identity, so a
loss called with ``gather=True`` gives exactly its single-process value.

Gradient convention (as in lightly's ``GatherLayer`` and SimCLR's TPU code): each rank computes the
loss of its *own* anchors against the gathered keys, and the backward of `gather_with_grad` sums
the key gradients of all ranks into each rank's slice. Each rank's input gradient is therefore
d(sum over ranks of the rank losses)/d(its inputs) = world_size x the gradient of the global loss
(the mean over ranks). DDP averages parameter gradients over ranks, which divides that factor out:
training is identical to one process on the concatenated batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = [
    "across_ranks",
    "gather_no_grad",
    "gather_with_grad",
    "local_rows",
    "rank_and_world",
    "sharded_step",
    "shuffle_batch",
    "step_shard",
    "unshuffle_batch",
]


def rank_and_world() -> tuple[int, int]:
    """(rank, world size), or (0, 1) when torch.distributed is not initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


_SHARDED: list[bool] = [False]


@contextmanager
def sharded_step() -> Iterator[None]:
    """Mark a training step whose global batch is split over the ranks (the trainer's step).

    Inside it, `step_shard` is this process's (rank, world size): methods gather negatives,
    view makers draw the parameters of the whole global batch and keep their rows, and
    `SyncBatchNorm` pools statistics over the ranks. Outside it (evaluation, analyses, the
    Python API) everything is single-process even when a process group exists.
    """
    previous = _SHARDED[0]
    _SHARDED[0] = True
    try:
        yield
    finally:
        _SHARDED[0] = previous


def step_shard() -> tuple[int, int]:
    """(rank, world size) inside `sharded_step` under torch.distributed, else (0, 1)."""
    return rank_and_world() if _SHARDED[0] else (0, 1)


def across_ranks() -> bool:
    """Whether this is a sharded training step with more than one rank (losses then gather)."""
    return step_shard()[1] > 1


def local_rows(n: int) -> tuple[int, slice]:
    """For a rank holding ``n`` rows of the global batch: (global batch size, its rows in it).

    Ranks hold consecutive blocks in rank order (the trainer's split), so gathering from every
    rank reproduces the global batch in order. Outside a sharded step: ``(n, slice(0, n))``.
    """
    rank, world = step_shard()
    return n * world, slice(rank * n, (rank + 1) * n)


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        _, world = rank_and_world()
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        ctx.rows = x.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        rank, _ = rank_and_world()
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[rank * ctx.rows : (rank + 1) * ctx.rows]


def gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` (same shape on every rank) from all ranks along dim 0, rank order.

    Rows ``rank * len(x) : (rank + 1) * len(x)`` of the result are this rank's ``x``. Gradients
    flow back to every rank's slice (summed over ranks, see the module docstring). Identity in
    one process.
    """
    _, world = rank_and_world()
    if world == 1:
        return x
    out: Tensor = _GatherWithGrad.apply(x)
    return out


def gather_no_grad(x: Tensor) -> Tensor:
    """`gather_with_grad` without a gradient: for labels and other integer tensors."""
    _, world = rank_and_world()
    if world == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world)]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def shuffle_batch(x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """MoCo's shuffle-BN: this rank's share of a random permutation of the global batch.

    In one process the batch is permuted locally (with split-BN, that moves each key into another
    split than its query). Under ``torch.distributed`` the batches of all ranks are gathered,
    permuted with a permutation drawn on rank 0 and broadcast, and each rank takes its slice, so
    per-rank BatchNorm statistics of the keys come from other images than the queries' (He et al.
    2020, section 3.3). Returns the shuffled rows and the index that `unshuffle_batch` needs.
    """
    rank, world = step_shard()
    perm = torch.randperm(len(x) * world, generator=generator).to(x.device)
    if world == 1:
        return x[perm], torch.argsort(perm)
    full = gather_no_grad(x)
    dist.broadcast(perm, src=0)
    mine = slice(rank * len(x), (rank + 1) * len(x))
    return full[perm[mine]], torch.argsort(perm)[mine]


def unshuffle_batch(y: Tensor, inverse: Tensor) -> Tensor:
    """Undo `shuffle_batch` on per-row outputs ``y``: row i belongs to this rank's input row i."""
    return (gather_no_grad(y) if across_ranks() else y)[inverse]
