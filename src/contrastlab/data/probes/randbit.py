"""RandBit: random bits appended as constant channels (Chen, Luo & Li, "Intriguing Properties of
Contrastive Losses", NeurIPS 2021: one of their feature-suppression datasets, [V-page] project
page and [V-code] the official colab ``randbits_mnist.ipynb``).

Every image carries an n-bit integer, shown to the network as n extra channels, each a constant
plane equal to one bit. The bits are shared perfectly by the two views of an image and are
unique-ish per image, so log2(data size) bits are enough to solve instance discrimination: an
"easy feature" that suppresses the harder ones. Two details of the colab matter: the planes are
appended AFTER augmentation (the crop never cuts or resizes them, both views carry identical
bits, and so does the un-augmented test image), and the integer is deterministic per image.

Our integer for image ``i`` is the top n bits of a 64-bit hash (splitmix64) of (seed, i), so it
depends only on the seed and the index, never on the batch the image is in. The colab hashes the
image's JPEG bytes instead; with ours, two identical images still get different bits. Plane j
holds bit j (least significant first) as uint8 0 or 255 (0.0 or 1.0 once scaled to [0, 1]).

How it plugs into the pipeline (no trainer or method changes):

1. ``probe = append_randbits(train, n_bits, seed)``: the images become (N, C + n, S, S) uint8 with
   the planes as the last n channels; ``probe.bit_labels`` holds each image's integer. Do the same
   for the test split with another seed (the same seed would give test image i the bits of train
   image i). Splits and subsets taken afterwards keep each image's bits.
2. Wrap the method's view maker, ``method.views = RandBitViews(method.views, n_bits)``: it strips
   the planes, augments the first C channels as before and re-appends the planes, resized to the
   view, as constant float 0/1 channels. Any view maker called as ``views(images, generator)``
   works (SimCLR, MoCo, SupCon, IIC); LOOC's ``sample``/``apply`` interface is not wrapped.
3. Build the encoder for C + n input channels (``data.channels``) with C + n means and stds
   (0 and 1 for the bit channels leave them as they are).
4. Evaluate on the un-augmented test images, which carry their bits; ``bit_labels`` (or
   `decode_randbits` on any batch) gives the bits' label for a linear probe of the shortcut.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from contrastlab.core.errors import DataError
from contrastlab.data.tensors import ImageTensors

__all__ = [
    "MAX_BITS",
    "RandBitTensors",
    "RandBitViews",
    "ViewMaker",
    "append_randbits",
    "decode_randbits",
    "hash_indices",
    "randbit_labels",
    "randbit_planes",
]

MAX_BITS = 63  # the integer must fit a non-negative int64 label
ON = 255  # uint8 value of a set bit

ViewOutput = Tensor | Sequence[Tensor]
ViewMaker = Callable[[Tensor, torch.Generator], ViewOutput]

_U64 = np.uint64


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """Steele, Lea & Flood's splitmix64 finaliser, elementwise on uint64 (wrapping arithmetic)."""
    x = x + _U64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> _U64(27))) * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


def _as_indices(indices: Tensor | Sequence[int] | np.ndarray) -> np.ndarray:
    array = np.asarray(torch.as_tensor(indices).cpu().numpy())
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise DataError(
            f"image indices must be a 1-D integer array, got {array.dtype} {array.shape}"
        )
    if array.size and int(array.min()) < 0:
        raise DataError(f"image indices must be non-negative, got {int(array.min())}")
    return array.astype(np.uint64)


def hash_indices(indices: Tensor | Sequence[int] | np.ndarray, seed: int) -> np.ndarray:
    """A 64-bit hash of (seed, index) per index: uint64 (N,), the same in any batch."""
    key = _splitmix64(np.asarray([seed % 2**64], dtype=np.uint64))
    return _splitmix64(_as_indices(indices) ^ key)


def _check_bits(n_bits: int) -> None:
    if not 0 <= n_bits <= MAX_BITS:
        raise DataError(f"n_bits must be in 0..{MAX_BITS}, got {n_bits}")


def randbit_labels(indices: Tensor | Sequence[int] | np.ndarray, n_bits: int, seed: int) -> Tensor:
    """The n-bit integer of each image index: int64 (N,) in 0..2^n - 1 (all 0 when n = 0)."""
    _check_bits(n_bits)
    hashed = hash_indices(indices, seed)
    if n_bits == 0:
        return torch.zeros(len(hashed), dtype=torch.int64)
    return torch.from_numpy((hashed >> _U64(64 - n_bits)).astype(np.int64))


def _planes_of(labels: Tensor, n_bits: int, height: int, width: int) -> Tensor:
    """Bits of ``labels`` as 0/1 int64 (N, n) expanded to constant planes (N, n, H, W)."""
    shifts = torch.arange(n_bits, dtype=torch.int64, device=labels.device)
    bits = (labels[:, None] >> shifts) & 1
    return bits[:, :, None, None].expand(-1, -1, height, width)


def randbit_planes(
    indices: Tensor | Sequence[int] | np.ndarray, n_bits: int, image_size: int, seed: int
) -> Tensor:
    """The bit planes of each image index: uint8 (N, n_bits, S, S), each plane all 0 or all 255.

    Plane j of image i is bit j of `randbit_labels` (least significant first).
    """
    if image_size < 1:
        raise DataError(f"image size must be positive, got {image_size}")
    labels = randbit_labels(indices, n_bits, seed)
    planes = _planes_of(labels, n_bits, image_size, image_size)
    return (planes * ON).to(torch.uint8).contiguous()


def decode_randbits(images: Tensor, n_bits: int) -> Tensor:
    """The integer held by the last ``n_bits`` channels of (N, C, H, W) images: int64 (N,).

    Reads each plane's top-left pixel: uint8 planes are set at >= 128, float ones at >= 0.5.
    """
    _check_bits(n_bits)
    if images.ndim != 4 or images.shape[1] < n_bits:
        raise DataError(
            f"images must be (N, C, H, W) with at least {n_bits} channels, "
            f"got shape {tuple(images.shape)}"
        )
    if n_bits == 0:
        return torch.zeros(images.shape[0], dtype=torch.int64, device=images.device)
    corner = images[:, images.shape[1] - n_bits :, 0, 0]
    threshold = 128 if images.dtype == torch.uint8 else 0.5
    bits = (corner >= threshold).to(torch.int64)
    weights = 2 ** torch.arange(n_bits, dtype=torch.int64, device=images.device)
    return (bits * weights).sum(dim=1)


@dataclass
class RandBitTensors:
    """A data set with RandBit planes: images (N, C + n, S, S) and each image's bits' label."""

    data: ImageTensors  # the planes are the last n_bits channels; labels are the image classes
    bit_labels: Tensor  # int64 (N,): the integer the bits encode
    n_bits: int


def append_randbits(data: ImageTensors, n_bits: int, seed: int) -> RandBitTensors:
    """``data`` with `randbit_planes` of its row indices 0..N-1 appended as the last channels.

    The bits' integer is also stored as ``meta["randbit"]`` (float64, exact) so that it follows
    the images through `select`, splits and subsets; the name gains ``+randbit{n}``.
    """
    size = int(data.images.shape[-1])
    indices = torch.arange(len(data))
    planes = randbit_planes(indices, n_bits, size, seed)
    labels = randbit_labels(indices, n_bits, seed)
    meta = {key: values.clone() for key, values in data.meta.items()}
    meta["randbit"] = labels.to(torch.float64)
    images = torch.cat([data.images, planes.to(data.images.device)], dim=1)
    tensors = ImageTensors(
        images=images,
        labels=data.labels.clone(),
        meta=meta,
        classes=list(data.classes),
        name=f"{data.name}+randbit{n_bits}",
    )
    return RandBitTensors(data=tensors, bit_labels=labels, n_bits=n_bits)


class RandBitViews:
    """Wraps a view maker so the RandBit planes skip augmentation and are appended after it.

    Input images carry the planes as their last ``n_bits`` channels (`append_randbits`). Each
    call strips them, calls ``views(images[:, :C], generator)`` (a tensor or a sequence of
    tensors), and appends to every output the same bits as constant planes of the output's size:
    0/1 for float outputs, 0/255 for uint8 ones. Both views of an image therefore carry exactly
    the same bits, and the generator sees exactly the draws it would see without bits.
    """

    def __init__(self, views: ViewMaker, n_bits: int) -> None:
        _check_bits(n_bits)
        self.views = views
        self.n_bits = n_bits

    def __repr__(self) -> str:
        return f"RandBitViews({self.views!r}, n_bits={self.n_bits})"

    def split(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(the image channels, the bits' integers int64 (B,)); DataError if planes are missing."""
        n = self.n_bits
        if images.ndim != 4 or images.shape[1] <= n:
            raise DataError(
                f"RandBit views need (B, C + {n}, H, W) images with the bit planes last, "
                f"got shape {tuple(images.shape)}"
            )
        planes = images[:, images.shape[1] - n :]
        if not bool((planes == planes[:, :, :1, :1]).all()):
            raise DataError(
                f"the last {n} channels of the images are not constant bit planes; "
                "append them with append_randbits"
            )
        return images[:, : images.shape[1] - n], decode_randbits(images, n)

    def _append(self, view: Tensor, labels: Tensor) -> Tensor:
        if view.ndim != 4 or view.shape[0] != labels.shape[0]:
            raise DataError(
                f"the wrapped view maker returned shape {tuple(view.shape)} "
                f"for a batch of {labels.shape[0]} images"
            )
        planes = _planes_of(labels.to(view.device), self.n_bits, view.shape[-2], view.shape[-1])
        scale = ON if view.dtype == torch.uint8 else 1
        return torch.cat([view, (planes * scale).to(view.dtype)], dim=1)

    def __call__(self, images: Tensor, generator: torch.Generator) -> ViewOutput:
        """The wrapped views of the image channels, each with the bit planes appended."""
        if self.n_bits == 0:
            return self.views(images, generator)
        base, labels = self.split(images)
        out = self.views(base, generator)
        if isinstance(out, Tensor):
            return self._append(out, labels)
        appended = [self._append(view, labels) for view in out]
        return tuple(appended) if isinstance(out, tuple) else appended
