"""Turning a source into in-memory tensors once, and splitting or subsetting those tensors.

Training decodes every image exactly once (`materialize`) into one uint8 tensor of a common size
and channel count (`conform`), then augments on the device. Splits and subsets are deterministic
in their seed and stratified by label when the data is labelled, so evaluations are comparable
across runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms.v2 import functional as tvf
from tqdm import tqdm

from contrastlab.core.errors import DataError
from contrastlab.data.source import ImageSource

BATCH_SIZE = 256

Row = tuple[torch.Tensor, int, Mapping[str, float]]  # conformed image, label, meta


@dataclass
class ImageTensors:
    """A whole decoded data set: images, labels, per-sample metadata, class names, origin."""

    images: torch.Tensor  # uint8 (N, C, S, S)
    labels: torch.Tensor  # int64 (N,), -1 for unlabelled
    meta: dict[str, torch.Tensor]  # float64 (N,) per metadata key common to all samples
    classes: list[str]
    name: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def labelled(self) -> bool:
        """True when every label is a class index (>= 0) and there are class names."""
        return bool(self.classes) and bool((self.labels >= 0).all())

    def select(self, index: torch.Tensor) -> ImageTensors:
        """The rows at `index` (integer or boolean tensor), with the same classes and name."""
        return ImageTensors(
            images=self.images[index],
            labels=self.labels[index],
            meta={key: values[index] for key, values in self.meta.items()},
            classes=list(self.classes),
            name=self.name,
        )


def conform(image: torch.Tensor, image_size: int, channels: int = 3) -> torch.Tensor:
    """uint8 (C, H, W) -> uint8 (channels, image_size, image_size).

    1 -> 3 channels by repetition; 3 -> 1 by ITU-R 601 luma (`rgb_to_grayscale`, which
    truncates). An image of another size is resized (bilinear, antialiased) so that its shorter
    side is `image_size`, then centre-cropped. Returns the input itself when it already conforms.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if image_size < 1:
        raise ValueError(f"image_size must be positive, got {image_size}")
    if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] not in (1, 3):
        raise DataError(
            "expected a uint8 image (C, H, W) with C in {1, 3}, "
            f"got {image.dtype} {tuple(image.shape)}"
        )
    if image.shape[0] != channels:
        image = image.repeat(3, 1, 1) if channels == 3 else tvf.rgb_to_grayscale(image)
    if tuple(image.shape[1:]) != (image_size, image_size):
        image = tvf.resize(image, [image_size], antialias=True)
        image = tvf.center_crop(image, [image_size, image_size])
    return image


@dataclass(frozen=True)
class _Failure:
    """A DataError raised while decoding, passed back through the loader as data.

    Exceptions raised in DataLoader workers come back wrapped in a multi-line traceback; carrying
    the message instead keeps the user-facing error to its one line.
    """

    message: str


class _Conformed(Dataset[Any]):
    """The source's samples conformed to one size and channel count (or a `_Failure`)."""

    def __init__(self, source: ImageSource, image_size: int, channels: int) -> None:
        self.source, self.image_size, self.channels = source, image_size, channels

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> Row | _Failure:
        try:
            sample = self.source[index]
            return conform(sample.image, self.image_size, self.channels), sample.label, sample.meta
        except DataError as err:
            return _Failure(str(err))


# the readable rows of a loader batch (images, labels, metas) and the failures' messages
_Batch = tuple[torch.Tensor, torch.Tensor, list[Mapping[str, float]], list[str]]


def _collate(items: Sequence[Row | _Failure]) -> _Batch:
    rows = [item for item in items if not isinstance(item, _Failure)]
    failures = [item.message for item in items if isinstance(item, _Failure)]
    images = torch.stack([r[0] for r in rows]) if rows else torch.empty(0, dtype=torch.uint8)
    labels = torch.tensor([r[1] for r in rows], dtype=torch.int64)
    return images, labels, [r[2] for r in rows], failures


def materialize(
    source: ImageSource,
    *,
    image_size: int,
    channels: int = 3,
    workers: int = 0,
    progress: bool = False,
    skipped: list[str] | None = None,
) -> ImageTensors:
    """Decode every sample once into one uint8 tensor (N, channels, image_size, image_size).

    Decoding runs through a torch DataLoader (`workers` worker processes, batches of
    BATCH_SIZE), with a tqdm bar if `progress`. Metadata keys present in every sample become
    float64 tensors. An empty source, or labels outside the source's classes, raise DataError
    naming the source. An unreadable sample raises DataError naming its file, unless `skipped`
    is a list: then it is left out and its message ("cannot read image PATH: REASON") appended.
    """
    n = len(source)
    if n == 0:
        raise DataError(f"empty data source: {source.name} (it holds no images)")
    dataset = _Conformed(source, image_size, channels)
    # Fail fast in this process; this also fills lazy caches before workers copy the source.
    first = dataset[0]
    if isinstance(first, _Failure) and skipped is None:
        raise DataError(first.message)
    images = torch.empty((n, channels, image_size, image_size), dtype=torch.uint8)
    labels = torch.empty((n,), dtype=torch.int64)
    metas: list[Mapping[str, float]] = []
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, num_workers=workers, collate_fn=_collate)
    with tqdm(total=n, desc=f"decoding {source.name}", unit="img", disable=not progress) as bar:
        start = 0
        for batch_images, batch_labels, batch_metas, failures in loader:
            if failures:
                if skipped is None:
                    raise DataError(failures[0])
                skipped.extend(failures)
            stop = start + len(batch_labels)
            images[start:stop] = batch_images
            labels[start:stop] = batch_labels
            metas.extend(batch_metas)
            start = stop
            bar.update(len(batch_labels) + len(failures))
    if start == 0:
        raise DataError(f"no image of {source.name} could be read ({n} skipped)")
    images, labels = images[:start], labels[:start]
    classes = list(source.classes)
    if labels.min() < -1 or (classes and labels.max() >= len(classes)):
        raise DataError(
            f"labels of {source.name} range over {int(labels.min())}..{int(labels.max())} "
            f"but it has {len(classes)} classes"
        )
    meta = _stack_meta(metas)
    return ImageTensors(images=images, labels=labels, meta=meta, classes=classes, name=source.name)


def _stack_meta(metas: Sequence[Mapping[str, float]]) -> dict[str, torch.Tensor]:
    """float64 (N,) per metadata key found in every sample, in the first sample's key order."""
    if not metas:
        return {}
    common = [key for key in metas[0] if all(key in m for m in metas)]
    return {key: torch.tensor([m[key] for m in metas], dtype=torch.float64) for key in common}


def _split_indices(data: ImageTensors, held_out: int | float, seed: int) -> tuple[Any, Any]:
    """Sorted row indices (kept, held out), stratified when labelled and sklearn can stratify."""
    index = np.arange(len(data))
    stratify = data.labels.numpy() if data.labelled else None
    try:
        kept, out = train_test_split(
            index, test_size=held_out, random_state=seed, stratify=stratify
        )
    except ValueError:
        if stratify is None:
            raise
        # A class too small for both sides, or fewer held-out rows than classes: plain random.
        kept, out = train_test_split(index, test_size=held_out, random_state=seed)
    return np.sort(kept), np.sort(out)


def holdout_split(
    data: ImageTensors, fraction: float, seed: int
) -> tuple[ImageTensors, ImageTensors]:
    """Deterministic split into (train, held_out), about `fraction` of the rows held out.

    Stratified by label when labelled (falling back to a plain random split only where sklearn
    cannot stratify, e.g. a class with a single sample); plain random otherwise. Both parts keep
    the original row order. DataError when `fraction` is not in (0, 1) or a part would be empty.
    """
    if not 0.0 < fraction < 1.0:
        raise DataError(f"held-out fraction must be between 0 and 1 (exclusive), got {fraction}")
    try:
        kept, out = _split_indices(data, fraction, seed)
    except ValueError as err:
        raise DataError(
            f"cannot hold out {fraction} of {data.name} ({len(data)} samples): "
            "both parts must be non-empty"
        ) from err
    return data.select(torch.from_numpy(kept)), data.select(torch.from_numpy(out))


def take_subset(data: ImageTensors, limit: int, seed: int) -> ImageTensors:
    """At most `limit` rows: a deterministic random choice, stratified when labelled.

    Stratification falls back to a plain random choice where sklearn cannot stratify (e.g. fewer
    rows than classes). The rows keep their original order; `data` itself is returned when
    `limit` >= its length. DataError when `limit` < 1.
    """
    if limit < 1:
        raise DataError(f"subset limit must be at least 1, got {limit}")
    if limit >= len(data):
        return data
    _, chosen = _split_indices(data, limit, seed)
    return data.select(torch.from_numpy(chosen))
