"""The built-in ``digits`` source: scikit-learn's bundled handwritten digits (no download).

1,797 greyscale 8x8 images of the digits 0-9 (UCI optical recognition data, as shipped with
`sklearn.datasets.load_digits`). Pixel values 0..16 are scaled to uint8 0..255 as
``round(v * 255 / 16)``, one channel. The split is fixed: 30% held out for test, stratified by
digit, ``random_state=0``, giving 1,257 train and 540 test images, each in the original order.
Images stay 8x8 here; `materialize` resizes them to the recipe's size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from contrastlab.data.memory import ArraySource
from contrastlab.data.options import resolve_options
from contrastlab.data.source import SourceSplits

TEST_FRACTION = 0.3
SPLIT_SEED = 0
CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 images as uint8 (N, 1, 8, 8) scaled to 0..255, and their int64 labels (N,)."""
    bunch = load_digits()
    pixels = np.asarray(bunch.images, dtype=np.float64)
    images = np.rint(pixels * (255.0 / 16.0)).astype(np.uint8)
    labels = np.asarray(bunch.target, dtype=np.int64)
    return images[:, None, :, :], labels


def open_digits(options: Mapping[str, Any] | None = None) -> SourceSplits:
    """The fixed stratified train/test split of scikit-learn's digits. Takes no options."""
    resolve_options(options, {}, "digits")
    images, labels = digits_arrays()
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=labels
    )
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    return SourceSplits(
        train=ArraySource("digits:train", images[train_idx], labels[train_idx], CLASSES),
        test=ArraySource("digits:test", images[test_idx], labels[test_idx], CLASSES),
    )
