"""A source over images already decoded into one array (digits, IDX, npz, CIFAR batches).

Formats that store raw pixel arrays are decoded in one go at open time; `ArraySource` then serves
views of that array, so indexing is cheap and nothing is copied per sample. Every array source
refuses images with a side under `data.limits.MIN_SIDE`, as decoded image files do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from contrastlab.core.errors import DataError
from contrastlab.data.limits import check_sides
from contrastlab.data.source import Sample


class ArraySource:
    """Samples from uint8 images (N, C, H, W), integer labels (N,) (-1 = unlabelled) and optional
    per-sample metadata arrays (N,)."""

    def __init__(
        self,
        name: str,
        images: np.ndarray | torch.Tensor,
        labels: np.ndarray | torch.Tensor | None,
        classes: Sequence[str],
        meta: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        if isinstance(images, np.ndarray):
            images = np.ascontiguousarray(images)
            if not images.flags.writeable:  # e.g. np.frombuffer over file bytes
                images = images.copy()
        tensor = torch.as_tensor(images)
        if tensor.dtype != torch.uint8 or tensor.ndim != 4 or tensor.shape[1] not in (1, 3):
            raise DataError(
                f"images of {name} must be uint8 (N, C, H, W) with C in {{1, 3}}, "
                f"got {tensor.dtype} {tuple(tensor.shape)}"
            )
        check_sides(int(tensor.shape[3]), int(tensor.shape[2]), name, many=True)
        n = int(tensor.shape[0])
        if labels is None:
            label_tensor = torch.full((n,), -1, dtype=torch.int64)
        else:
            # A copy, so read-only or narrow-typed label arrays never leak through.
            label_tensor = torch.tensor(np.asarray(labels), dtype=torch.int64).reshape(-1)
        if label_tensor.numel() != n:
            raise DataError(f"{name} holds {n} images but {label_tensor.numel()} labels")
        self.name = name
        self.classes: Sequence[str] = tuple(classes)
        self.images = tensor
        self.labels = label_tensor
        self.meta = {
            key: np.asarray(values, dtype=np.float64) for key, values in (meta or {}).items()
        }
        for key, values in self.meta.items():
            if values.shape != (n,):
                raise DataError(f"{name}: meta {key!r} has shape {values.shape}, expected ({n},)")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> Sample:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {self.name} ({len(self)} samples)")
        meta = {key: float(values[index]) for key, values in self.meta.items()}
        return Sample(image=self.images[index], label=int(self.labels[index]), meta=meta)


def numbered_classes(*label_arrays: np.ndarray | None) -> list[str]:
    """Class names "0".."K-1" for integer labels whose largest value is K-1 (none if no labels)."""
    top = -1
    for labels in label_arrays:
        if labels is not None and labels.size:
            top = max(top, int(labels.max()))
    return [str(i) for i in range(top + 1)]
