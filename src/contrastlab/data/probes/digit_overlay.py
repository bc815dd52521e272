"""Digits on images (Chen, Luo & Li, "Intriguing Properties of Contrastive Losses", NeurIPS 2021:
their "DigitOnImageNet" set, [V-page] project page, [V-code] the official colab
``digits_on_tf_flowers.ipynb``).

A competing, easy feature: every image gets a handwritten digit merged onto it, and both labels
are kept, so one can measure how much of the object class and how much of the digit class a
representation holds. As in the official colab:

1. The digits come from a **pool of the first N digits** of a digit set (N is the experiment's
   knob: with few unique digits the digit is an easy shared feature). Here the set is the
   built-in ``digits`` train split (8x8, upsampled) or the train images of an MNIST-style IDX
   file.
2. Each pool digit is resized to ``digit_size`` pixels (bilinear, antialiased), repeated to the
   image's channels (grey on RGB), and pasted at every position of a grid, by default the 3x3 grid
   of top-left corners at 0.15, 0.45 and 0.75 of the side (the colab's offsets).
3. It is merged with a **pixel-wise max**, so every output pixel is >= both the image and the
   digit.

The image's digit is pool entry ``hash(seed, i) mod N`` (`randbit.hash_indices`): deterministic
per image index, independent of batches; both views of an image see the same digit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as tvf

from contrastlab.core.errors import DataError
from contrastlab.data.digits import CLASSES as DIGIT_CLASSES
from contrastlab.data.digits import open_digits
from contrastlab.data.idx import open_idx_file
from contrastlab.data.memory import ArraySource
from contrastlab.data.probes.randbit import hash_indices
from contrastlab.data.tensors import ImageTensors

__all__ = [
    "GRID_3X3",
    "DigitOverlay",
    "DigitPool",
    "digit_pool",
    "digit_task",
    "grid_corners",
    "overlay_digits",
]

GRID_3X3: tuple[tuple[float, float], ...] = tuple(
    (row, col) for row in (0.15, 0.45, 0.75) for col in (0.15, 0.45, 0.75)
)  # top-left corners as (row, column) fractions of the side, as in the official colab


@dataclass
class DigitPool:
    """N unique digit images, uint8 (N, 1, h, w), their digit classes int64 (N,) and class names."""

    images: Tensor
    labels: Tensor
    classes: list[str]

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def digit_pool(size: int, idx_path: Path | str | None = None) -> DigitPool:
    """The first ``size`` digits of the built-in ``digits`` train split, or of an IDX images file.

    DataError when ``size`` < 1, when the set holds fewer digits, or when the IDX file is
    unlabelled or not single-channel.
    """
    if size < 1:
        raise DataError(f"digit pool size must be at least 1, got {size}")
    if idx_path is None:
        source = open_digits().train
        name, classes = "digits:train", list(DIGIT_CLASSES)
    else:
        source = open_idx_file(Path(idx_path)).train
        name, classes = str(idx_path), list(source.classes)
    if not isinstance(source, ArraySource) or not classes:
        raise DataError(f"the digit pool needs labelled digits, but {name} has no labels")
    if size > len(source):
        raise DataError(f"digit pool size {size} exceeds the {len(source)} digits of {name}")
    return DigitPool(
        images=source.images[:size].clone(), labels=source.labels[:size].clone(), classes=classes
    )


def grid_corners(
    image_size: int, digit_size: int, positions: Sequence[tuple[float, float]] = GRID_3X3
) -> Tensor:
    """Pixel top-left corners (row, col) of the pasted digits, int64 (P, 2).

    A position is a (row, column) fraction of the side, rounded to a pixel; DataError when a digit
    placed there would not fit inside the image.
    """
    if not 1 <= digit_size <= image_size:
        raise DataError(f"digit size must be in 1..{image_size} (the image size), got {digit_size}")
    if not positions:
        raise DataError("digit positions must name at least one (row, column) fraction")
    corners = [(round(r * image_size), round(c * image_size)) for r, c in positions]
    for (row, col), where in zip(corners, positions, strict=True):
        if min(row, col) < 0 or max(row, col) + digit_size > image_size:
            raise DataError(
                f"a {digit_size}-pixel digit at position {where} does not fit a {image_size}-pixel "
                "image; positions are top-left corners as fractions of the side"
            )
    return torch.tensor(corners, dtype=torch.int64)


@dataclass
class DigitOverlay:
    """Images with digits merged on: both labels, which pool digit each got, and where."""

    data: ImageTensors  # labels and classes are the images' own
    digit_labels: Tensor  # int64 (N,): the class of each image's digit
    digit_ids: Tensor  # int64 (N,): the index of each image's digit in the pool
    digit_classes: list[str]
    corners: Tensor  # int64 (P, 2): top-left (row, col) of every pasted copy, in pixels
    digit_size: int


def overlay_digits(
    data: ImageTensors,
    pool: DigitPool,
    *,
    digit_size: int,
    seed: int,
    positions: Sequence[tuple[float, float]] = GRID_3X3,
) -> DigitOverlay:
    """Max-merge one pool digit per image onto ``data`` at every position.

    Image i gets pool digit ``hash(seed, i) mod N``. The digit classes are also stored as
    ``meta["digit_label"]`` and ``meta["digit_id"]`` so they follow the images through splits and
    subsets; the name gains ``+digits{N}``.
    """
    images = data.images
    if images.ndim != 4 or images.dtype != torch.uint8 or images.shape[-1] != images.shape[-2]:
        raise DataError(
            f"images must be uint8 (N, C, S, S), got {images.dtype} {tuple(images.shape)}"
        )
    size, channels = int(images.shape[-1]), int(images.shape[1])
    corners = grid_corners(size, digit_size, positions)
    digits = tvf.resize(pool.images, [digit_size, digit_size], antialias=True)
    digits = digits.expand(-1, channels, -1, -1).to(images.device)
    ids = torch.from_numpy(
        (hash_indices(np.arange(len(data)), seed) % np.uint64(len(pool))).astype(np.int64)
    )
    chosen = digits[ids.to(images.device)]
    out = images.clone()
    for row, col in corners.tolist():
        window = (
            slice(None),
            slice(None),
            slice(row, row + digit_size),
            slice(col, col + digit_size),
        )
        out[window] = torch.maximum(out[window], chosen)
    digit_labels = pool.labels[ids]
    meta = {key: values.clone() for key, values in data.meta.items()}
    meta["digit_label"] = digit_labels.to(torch.float64)
    meta["digit_id"] = ids.to(torch.float64)
    tensors = ImageTensors(
        images=out,
        labels=data.labels.clone(),
        meta=meta,
        classes=list(data.classes),
        name=f"{data.name}+digits{len(pool)}",
    )
    return DigitOverlay(tensors, digit_labels, ids, list(pool.classes), corners, digit_size)


def digit_task(overlay: DigitOverlay) -> ImageTensors:
    """The same images labelled by their digit, for a linear probe of the competing feature."""
    return ImageTensors(
        images=overlay.data.images,
        labels=overlay.digit_labels.clone(),
        meta=dict(overlay.data.meta),
        classes=list(overlay.digit_classes),
        name=f"{overlay.data.name}:digit",
    )
