"""Block shuffling (Neyshabur, Sedghi & Zhang, "What is being transferred in transfer learning?",
NeurIPS 2020, section 3; [V-code] the official ``libdata/utils.py``).

Each S x S image is cut into non-overlapping b x b blocks, a (S/b) x (S/b) grid of them, and the
blocks are moved to new grid positions by ONE fixed random permutation, drawn once from a seed and
shared by every image of the data set, train and test alike (the permutation is fixed
across the data set, not drawn per image). Inside a block the pixels keep their arrangement, so
b = S leaves the image unchanged and b = 1 permutes single pixels (all channels of a pixel move
together; the paper's separate "pixel shuffle", which mixes channels too, is not this). The
paper sweeps b over divisors of 224 and uses permutation seed 1234 + s for run s.

Blocks are numbered in row-major order over the grid. ``block_shuffle(images, b, p)`` puts the
block numbered ``p[q]`` of the input at grid position ``q`` of the output, so the permutation
``inverse_permutation(p)`` undoes it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from contrastlab.core.errors import DataError
from contrastlab.data.tensors import ImageTensors

__all__ = [
    "block_permutation",
    "block_shuffle",
    "block_shuffle_tensors",
    "inverse_permutation",
]


def _check_block(image_size: int, block: int) -> int:
    """The grid side S / b; DataError unless b is a positive divisor of S."""
    if image_size < 1:
        raise DataError(f"image size must be positive, got {image_size}")
    if block < 1 or image_size % block != 0:
        raise DataError(
            f"block size {block} must be a positive divisor of the image size {image_size}"
        )
    return image_size // block


def block_permutation(image_size: int, block: int, seed: int) -> Tensor:
    """One random permutation of the (S/b)^2 blocks: int64 (number of blocks,).

    Drawn with `torch.randperm` from a CPU generator seeded with ``seed`` alone, so the same
    (image_size, block, seed) always gives the same permutation.
    """
    side = _check_block(image_size, block)
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(side * side, generator=generator)


def inverse_permutation(permutation: Tensor) -> Tensor:
    """The permutation q with q[p[i]] = i, which undoes `block_shuffle` by ``permutation``."""
    return torch.argsort(permutation)


def block_shuffle(images: Tensor, block: int, permutation: Tensor) -> Tensor:
    """Move the b x b blocks of every image by ``permutation``: (N, C, S, S) -> same shape.

    Output block q (row-major) is input block ``permutation[q]``; every image moves the same way.
    Works for any dtype (the data layer's images are uint8) and returns a new tensor. DataError
    when the images are not square (N, C, S, S), when b does not divide S, or when
    ``permutation`` is not a permutation of the (S/b)^2 blocks.
    """
    if images.ndim != 4 or images.shape[-1] != images.shape[-2]:
        raise DataError(f"images must be square (N, C, S, S), got shape {tuple(images.shape)}")
    n, channels, size = int(images.shape[0]), int(images.shape[1]), int(images.shape[-1])
    side = _check_block(size, block)
    count = side * side
    perm = torch.as_tensor(permutation, dtype=torch.int64).to(images.device)
    if perm.shape != (count,) or not torch.equal(
        torch.sort(perm).values, torch.arange(count, device=perm.device)
    ):
        raise DataError(
            f"permutation must reorder the {count} blocks of {block}x{block} pixels "
            f"(a permutation of 0..{count - 1}), got shape {tuple(perm.shape)}"
        )
    # (N, C, gy, b, gx, b) -> (N, C, gy * gx, b, b): blocks in row-major order.
    blocks = images.reshape(n, channels, side, block, side, block).permute(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(n, channels, count, block, block)[:, :, perm]
    grid = blocks.reshape(n, channels, side, side, block, block).permute(0, 1, 2, 4, 3, 5)
    return grid.reshape(n, channels, size, size).contiguous()


def block_shuffle_tensors(data: ImageTensors, block: int, seed: int) -> ImageTensors:
    """``data`` with every image block-shuffled by `block_permutation(S, block, seed)`.

    Labels, metadata and classes are kept; the name gains ``+blockshuffle{b}``. Shuffle the
    train and the test split with the same seed so they share the permutation.
    """
    size = int(data.images.shape[-1])
    permutation = block_permutation(size, block, seed)
    return ImageTensors(
        images=block_shuffle(data.images, block, permutation),
        labels=data.labels.clone(),
        meta={key: values.clone() for key, values in data.meta.items()},
        classes=list(data.classes),
        name=f"{data.name}+blockshuffle{block}",
    )
