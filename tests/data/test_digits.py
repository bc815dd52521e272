"""The built-in digits source: scaled values, the fixed stratified split."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from contrastlab.core.errors import DataError
from contrastlab.data import materialize, open_source


def test_fixed_stratified_split_with_scaled_values() -> None:
    splits = open_source("digits")
    assert splits.test is not None
    assert (len(splits.train), len(splits.test)) == (1257, 540)
    assert list(splits.train.classes) == [str(d) for d in range(10)]
    train = materialize(splits.train, image_size=8, channels=1)
    test = materialize(splits.test, image_size=8, channels=1)
    bunch = load_digits()
    expected = np.rint(bunch.images * 255 / 16).astype(np.uint8)
    # Every image appears exactly once across the splits, with its own label and pixels.
    both = torch.cat([train.images, test.images])[:, 0].numpy()
    labels = torch.cat([train.labels, test.labels]).numpy()
    order = np.lexsort(both.reshape(len(both), -1).T)
    reference = np.lexsort(expected.reshape(len(expected), -1).T)
    assert np.array_equal(both[order], expected[reference])
    assert np.array_equal(labels[order], bunch.target[reference])
    assert both.max() == 255 and both.min() == 0
    # Stratified: each class is ~30% held out.
    held_out = np.bincount(test.labels.numpy(), minlength=10) / np.bincount(bunch.target)
    assert np.all(np.abs(held_out - 0.3) < 0.02)


def test_split_is_deterministic() -> None:
    a, b = open_source("digits"), open_source("digits")
    assert a.test is not None and b.test is not None
    assert torch.equal(a.test[17].image, b.test[17].image) and a.test[17].label == b.test[17].label


def test_digits_takes_no_options() -> None:
    with pytest.raises(DataError, match=r"unknown option 'seed' for data source digits"):
        open_source("digits", options={"seed": 1})
