"""Category-instance sets from labelled images, for the invariance score's ``instance`` sets
(`contrastlab analyze invariance --transforms instance`).

Purushwalkam & Gupta (NeurIPS 2020; [V-code] their official configs) measure instance invariance on
sets of *different instances of one category* (Pascal3D+ "viewpointconstant_instance": several
cars, chairs, ... at a similar viewpoint): a representation invariant to the instance fires on all
of a set's images. Any labelled data gives such sets: each class's images, in a seeded random
order, cut into sets of ``per_set`` (the last fewer-than-``per_set`` images of a class join no
set). On handwritten digits a set is one digit written by different people, all upright.

`save_npz` writes the sets as an ``.npz`` source with a ``groups`` array (`data.npz`), which the
``instance`` transform reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import torch
from torch import Tensor

from contrastlab.core.atomic import atomic_write
from contrastlab.core.errors import DataError

__all__ = ["ClassSets", "class_sets", "save_npz"]


@dataclass
class ClassSets:
    """Which images form which set: ``index`` (rows of the source, set-major: set i is
    ``index[i * per_set : (i + 1) * per_set]``) and ``groups`` (each row's set id)."""

    index: Tensor  # int64 (M,)
    groups: Tensor  # int64 (M,)
    per_set: int


def class_sets(labels: Tensor | np.ndarray, per_set: int, *, seed: int = 0) -> ClassSets:
    """Sets of ``per_set`` images of one class each, from the integer ``labels`` (N,); images
    labelled -1 (unlabelled) are left out. The sets of class 0 come first, then class 1, ..."""
    values = torch.as_tensor(np.asarray(labels)).long().flatten()
    if per_set < 2:
        raise DataError(f"a set needs at least 2 images, got per_set={per_set}")
    generator = torch.Generator().manual_seed(seed)
    index: list[Tensor] = []
    for label in torch.unique(values[values >= 0]).tolist():
        rows = torch.nonzero(values == label).flatten()
        rows = rows[torch.randperm(len(rows), generator=generator)]
        index.append(rows[: len(rows) // per_set * per_set])
    kept = torch.cat(index) if index else torch.zeros(0, dtype=torch.long)
    if len(kept) == 0:
        raise DataError(f"no class has {per_set} labelled images to form a set")
    groups = torch.arange(len(kept) // per_set).repeat_interleave(per_set)
    return ClassSets(kept, groups, per_set)


def save_npz(
    path: Path, images: Tensor, labels: Tensor, sets: ClassSets, classes: Sequence[str]
) -> Path:
    """Write the images of ``sets`` (uint8 (N, C, H, W) ``images`` and their ``labels``) as an
    ``.npz`` source: images, labels, classes and groups, in the sets' order."""
    if images.dtype != torch.uint8 or images.ndim != 4 or len(images) != len(labels):
        raise DataError(
            f"expected uint8 (N, C, H, W) images and N labels, got {images.dtype} "
            f"{tuple(images.shape)} and {len(labels)} labels"
        )

    def write(handle: IO[bytes]) -> None:
        np.savez(
            handle,
            images=images[sets.index].numpy(),
            labels=labels[sets.index].numpy().astype(np.int64),
            classes=np.array(list(classes) or ["0"]),
            groups=sets.groups.numpy(),
        )

    atomic_write(path, write)  # whole or not at all
    return path
