"""Input checks shared by the evaluation protocols: one-line, user-facing errors.

Every protocol needs the same guarantees before it can produce a meaningful number: non-empty,
finite feature matrices of equal width, and one integer label per sample, all of them labelled
and inside ``range(num_classes)``. A class that occurs only in the test split is allowed (it
simply cannot be predicted).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from contrastlab.core.errors import ContrastlabError

__all__ = ["check_features", "check_images", "check_labels", "check_same_width"]


def check_images(images: object, *, what: str) -> None:
    """Raise unless ``images`` is a uint8 (N, C, H, W) tensor; ``what`` names it in the message."""
    if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
        got = (
            f"{images.dtype} of shape {tuple(images.shape)}"
            if isinstance(images, Tensor)
            else type(images).__name__
        )
        raise ContrastlabError(f"{what} must be a uint8 tensor (N, C, H, W), got {got}")


def check_features(features: Tensor | np.ndarray, *, split: str) -> Tensor:
    """Return ``features`` as a 2-D floating tensor, or raise if empty, ragged or non-finite."""
    x = torch.as_tensor(features)
    if x.ndim != 2:
        raise ContrastlabError(
            f"{split} features must be a 2-D (samples, dim) array, got shape {tuple(x.shape)}"
        )
    if not x.dtype.is_floating_point:
        raise ContrastlabError(f"{split} features must be floating point, got {x.dtype}")
    if x.shape[0] == 0:
        raise ContrastlabError(f"evaluation needs at least one {split} sample, got none")
    if x.shape[1] == 0:
        raise ContrastlabError(f"{split} features have zero dimensions")
    n_bad = int((~torch.isfinite(x)).sum())
    if n_bad:
        raise ContrastlabError(
            f"{split} features hold {n_bad} non-finite values (NaN or inf); "
            "the encoder may have diverged"
        )
    return x


def check_same_width(train: Tensor, test: Tensor) -> None:
    """Raise unless training and test features have the same dimension."""
    if train.shape[1] != test.shape[1]:
        raise ContrastlabError(
            f"training and test features differ in dimension: {train.shape[1]} vs {test.shape[1]}"
        )


def check_labels(
    labels: Tensor | np.ndarray,
    n_samples: int,
    *,
    split: str,
    num_classes: int | None = None,
) -> Tensor:
    """Return ``labels`` as a 1-D int64 CPU tensor after checking it against its samples.

    Raises when the count differs from ``n_samples``, when the split is empty, when any label is
    negative (the convention for "no label"), or when a label is ``>= num_classes``.
    """
    y = torch.as_tensor(labels)
    if y.ndim != 1:
        raise ContrastlabError(f"{split} labels must be 1-D, got shape {tuple(y.shape)}")
    if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise ContrastlabError(f"{split} labels must be integers, got {y.dtype}")
    if y.shape[0] != n_samples:
        raise ContrastlabError(f"{split} data has {n_samples} samples but {y.shape[0]} labels")
    if n_samples == 0:
        raise ContrastlabError(f"evaluation needs at least one {split} sample, got none")
    y = y.to(device="cpu", dtype=torch.int64)
    n_missing = int((y < 0).sum())
    if n_missing:
        raise ContrastlabError(
            f"evaluation needs labelled data: {n_missing} of {n_samples} {split} samples "
            "have no label"
        )
    if num_classes is not None:
        if num_classes < 1:
            raise ContrastlabError(f"num_classes must be at least 1, got {num_classes}")
        largest = int(y.max())
        if largest >= num_classes:
            raise ContrastlabError(
                f"num_classes={num_classes} does not cover the {split} labels "
                f"(largest label is {largest})"
            )
    return y
