"""Category-instance sets from labelled images (`contrastlab.data.class_sets`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from contrastlab.analysis.invariance import invariance_score
from contrastlab.analysis.transform_sets import instance_sets
from contrastlab.core.errors import DataError
from contrastlab.data.class_sets import class_sets, save_npz
from contrastlab.data.memory import ArraySource
from contrastlab.data.npz import open_npz


def test_each_set_holds_one_class_and_the_remainder_is_left_out() -> None:
    # class 0: 7 images, class 1: 3, class 2: 6; unlabelled rows never join a set
    labels = torch.tensor([0] * 7 + [1] * 3 + [2] * 6 + [-1] * 4)
    sets = class_sets(labels, 3, seed=1)
    assert len(sets.index) == 6 + 3 + 6  # 7 -> two sets of 3, 3 -> one, 6 -> two
    assert sets.groups.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    chosen = labels[sets.index]
    assert chosen.tolist() == [0] * 6 + [1] * 3 + [2] * 6
    assert len(set(sets.index.tolist())) == len(sets.index)  # no image twice


def test_deterministic_per_seed_and_shuffled_within_a_class() -> None:
    labels = np.repeat(np.arange(4), 20)
    a, b = class_sets(labels, 5, seed=3), class_sets(labels, 5, seed=3)
    c = class_sets(labels, 5, seed=4)
    assert torch.equal(a.index, b.index)
    assert not torch.equal(a.index, c.index)
    assert not torch.equal(a.index, torch.arange(80))  # not the source order


@pytest.mark.parametrize(("labels", "per_set"), [([0, 0, 1], 1), ([0, 1, 2, -1], 2), ([-1, -1], 2)])
def test_impossible_sets_are_refused(labels: list[int], per_set: int) -> None:
    with pytest.raises(DataError):
        class_sets(torch.tensor(labels), per_set)


def test_npz_round_trip_feeds_the_instance_transform(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (30, 1, 8, 8), dtype=torch.uint8, generator=generator)
    labels = torch.arange(30) % 3
    sets = class_sets(labels, 4, seed=0)
    path = save_npz(tmp_path / "sets" / "instance.npz", images, labels, sets, ["a", "b", "c"])
    source = open_npz(path).train
    assert isinstance(source, ArraySource)  # held in memory
    assert tuple(source.classes) == ("a", "b", "c")
    assert torch.equal(source.images, images[sets.index])
    assert torch.equal(source.labels, labels[sets.index])
    kept, set_ids = instance_sets(source.images, source.meta["group"].astype(np.int64))
    assert len(kept) == len(sets.index) and set_ids.tolist() == sets.groups.tolist()


def test_features_equal_within_each_set_score_100() -> None:
    # a representation that sees only the class is fully instance-invariant
    labels = torch.arange(60) % 4
    sets = class_sets(labels, 5, seed=0)
    classes = labels[sets.index]
    codes = torch.randn(4, 16, generator=torch.Generator().manual_seed(0))  # one per class
    features = torch.nn.functional.one_hot(classes, 4).float() @ codes
    result = invariance_score(features, sets.groups, classes, top_k=4)
    assert result.score == pytest.approx(100.0)
