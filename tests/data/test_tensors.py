"""conform, materialize, holdout_split and take_subset: exact values and determinism."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest
import torch

from contrastlab.core.errors import DataError
from contrastlab.data import (
    ImageSource,
    ImageTensors,
    Sample,
    conform,
    holdout_split,
    materialize,
    take_subset,
)


class ListSource:
    """A minimal ImageSource over a list of samples; `broken` indices raise DataError."""

    def __init__(
        self, samples: Sequence[Sample], classes: Sequence[str] = (), broken: int | None = None
    ) -> None:
        self.name = "list-source"
        self.classes: Sequence[str] = tuple(classes)
        self.samples = list(samples)
        self.broken = broken

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Sample:
        if index == self.broken:
            raise DataError(f"cannot read image /fake/{index}.png: broken on purpose")
        return self.samples[index]


def sample(value: int, label: int = 0, meta: Mapping[str, float] | None = None) -> Sample:
    image = torch.full((3, 4, 4), value % 256, dtype=torch.uint8)
    return Sample(image=image, label=label, meta=meta or {})


def tensors(labels: Sequence[int], classes: Sequence[str] = ("a", "b", "c")) -> ImageTensors:
    n = len(labels)
    return ImageTensors(
        images=torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).clone(),
        labels=torch.tensor(labels, dtype=torch.int64),
        meta={"row": torch.arange(n, dtype=torch.float64)},
        classes=list(classes),
        name="t",
    )


# ---- conform ---------------------------------------------------------------------------------


def test_conform_is_a_no_op_when_conforming() -> None:
    image = torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8)
    assert conform(image, 8) is image
    grey = image[:1]
    assert conform(grey, 8, channels=1) is grey


def test_one_to_three_channels_repeats() -> None:
    grey = torch.randint(0, 256, (1, 5, 5), dtype=torch.uint8)
    out = conform(grey, 5, channels=3)
    assert out.shape == (3, 5, 5) and all(torch.equal(out[c], grey[0]) for c in range(3))


def test_three_to_one_channel_uses_itu_601_luma() -> None:
    image = torch.zeros((3, 1, 4), dtype=torch.uint8)
    image[0, 0, 0] = 255  # red
    image[1, 0, 1] = 255  # green
    image[2, 0, 2] = 255  # blue
    image[:, 0, 3] = torch.tensor([10, 200, 60])
    out = conform(image.expand(3, 4, 4).clone(), 4, channels=1)
    expected = [int(0.2989 * 255), int(0.587 * 255), int(0.114 * 255)]  # 76, 149, 29
    expected.append(int(0.2989 * 10 + 0.587 * 200 + 0.114 * 60))  # 127
    assert out.shape == (1, 4, 4) and out.dtype == torch.uint8
    assert out[0, 0].tolist() == expected


def test_non_square_is_resized_on_short_side_then_centre_cropped() -> None:
    image = torch.zeros((3, 20, 60), dtype=torch.uint8)
    image[:, :, 30:] = 255  # left half black, right half white
    out = conform(image, 10)
    # 20x60 -> 10x30, and the central 10 columns straddle the boundary at column 15.
    assert out.shape == (3, 10, 10)
    assert int(out[:, :, :4].max()) <= 10 and int(out[:, :, 6:].min()) >= 245
    tall = torch.full((1, 40, 10), 77, dtype=torch.uint8)
    assert torch.equal(conform(tall, 5, channels=1), torch.full((1, 5, 5), 77, dtype=torch.uint8))


def test_upscaling_small_images() -> None:
    digit = torch.full((1, 8, 8), 200, dtype=torch.uint8)
    out = conform(digit, 32)
    assert out.shape == (3, 32, 32) and bool((out == 200).all())


def test_conform_rejects_bad_images() -> None:
    with pytest.raises(DataError, match="uint8"):
        conform(torch.zeros((3, 4, 4), dtype=torch.float32), 4)
    with pytest.raises(DataError, match="C in"):
        conform(torch.zeros((4, 4, 4), dtype=torch.uint8), 4)


# ---- materialize -----------------------------------------------------------------------------


def test_materialize_values_labels_and_common_meta() -> None:
    samples = [sample(i * 10, label=i % 2, meta={"a": i, "b": -i}) for i in range(5)]
    samples[3] = sample(30, label=1, meta={"a": 3})  # lacks "b": only "a" is common
    source = ListSource(samples, classes=["even", "odd"])
    assert isinstance(source, ImageSource)
    data = materialize(source, image_size=2)  # 4x4 constant images resized to 2x2
    assert data.images.shape == (5, 3, 2, 2) and data.images.dtype == torch.uint8
    assert torch.equal(
        data.images,
        torch.tensor([0, 10, 20, 30, 40]).view(5, 1, 1, 1).expand(5, 3, 2, 2).to(torch.uint8),
    )
    # The luma weights sum to 0.9999 and rgb_to_grayscale truncates: a grey of 10 becomes 9.
    grey = materialize(source, image_size=4, channels=1)
    assert grey.images.shape == (5, 1, 4, 4)
    assert grey.images[:, 0, 0, 0].tolist() == [0, 9, 19, 29, 39]
    assert data.labels.tolist() == [0, 1, 0, 1, 0] and data.labels.dtype == torch.int64
    assert list(data.meta) == ["a"] and data.meta["a"].tolist() == [0, 1, 2, 3, 4]
    assert data.meta["a"].dtype == torch.float64
    assert data.classes == ["even", "odd"] and data.name == "list-source" and data.labelled


def test_materialize_with_workers_matches_in_process() -> None:
    source = ListSource([sample(i, label=i % 3) for i in range(300)], classes=["a", "b", "c"])
    a = materialize(source, image_size=4, workers=0)
    b = materialize(source, image_size=4, workers=2, progress=True)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)


def test_materialize_empty_source_names_it() -> None:
    with pytest.raises(DataError, match="empty data source: list-source"):
        materialize(ListSource([]), image_size=4)


@pytest.mark.parametrize("workers", [0, 2])
def test_decode_failure_is_one_line_naming_the_file(workers: int) -> None:
    source = ListSource([sample(i) for i in range(600)], broken=450)
    with pytest.raises(DataError) as err:
        materialize(source, image_size=4, workers=workers)
    assert str(err.value) == "cannot read image /fake/450.png: broken on purpose"


def test_labels_outside_classes_are_an_error() -> None:
    with pytest.raises(DataError, match=r"range over 0\.\.5 but it has 2 classes"):
        materialize(ListSource([sample(0, 0), sample(0, 5)], classes=["a", "b"]), image_size=4)


# ---- ImageTensors, holdout_split, take_subset ----------------------------------------------------


def test_labelled_and_select() -> None:
    data = tensors([0, 1, 2, 1])
    assert data.labelled and len(data) == 4
    assert not tensors([0, -1]).labelled and not tensors([0, 1], classes=[]).labelled
    part = data.select(torch.tensor([3, 1]))
    assert part.labels.tolist() == [1, 1] and part.meta["row"].tolist() == [3, 1]
    assert part.images[:, 0, 0, 0].tolist() == [3, 1]
    assert part.classes == data.classes and part.name == data.name


def test_holdout_split_is_stratified_disjoint_and_covering() -> None:
    labels = [0] * 50 + [1] * 30 + [2] * 20
    data = tensors(labels)
    train, held = holdout_split(data, 0.2, seed=0)
    rows_train, rows_held = train.meta["row"].long(), held.meta["row"].long()
    assert len(held) == 20 and len(train) == 80
    assert set(rows_train.tolist()).isdisjoint(rows_held.tolist())
    assert sorted(rows_train.tolist() + rows_held.tolist()) == list(range(100))
    assert torch.bincount(held.labels, minlength=3).tolist() == [10, 6, 4]
    assert torch.equal(held.labels, data.labels[rows_held])  # rows keep their labels
    assert rows_train.tolist() == sorted(rows_train.tolist())  # original order kept


def test_holdout_split_is_deterministic_by_seed() -> None:
    data = tensors([i % 3 for i in range(60)])
    a, b, c = (holdout_split(data, 0.25, seed=s)[1].meta["row"] for s in (1, 1, 2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_holdout_split_unlabelled_is_plain_random() -> None:
    data = tensors([-1] * 40, classes=[])
    train, held = holdout_split(data, 0.25, seed=0)
    assert (len(train), len(held)) == (30, 10)
    assert held.meta["row"].tolist() != list(range(30, 40))  # shuffled, not the tail


def test_holdout_split_falls_back_when_a_class_is_tiny() -> None:
    train, held = holdout_split(tensors([0] * 10 + [1]), 0.3, seed=0)
    assert len(train) + len(held) == 11 and len(held) == 4


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_holdout_split_rejects_bad_fractions(fraction: float) -> None:
    with pytest.raises(DataError, match="between 0 and 1"):
        holdout_split(tensors([0, 1, 0, 1]), fraction, seed=0)


def test_holdout_split_of_a_single_sample_is_an_error() -> None:
    with pytest.raises(DataError, match="both parts must be non-empty"):
        holdout_split(tensors([0]), 0.5, seed=0)


def test_take_subset_stratified_and_deterministic() -> None:
    data = tensors([0] * 60 + [1] * 30 + [2] * 10)
    sub = take_subset(data, 50, seed=3)
    assert len(sub) == 50
    assert torch.bincount(sub.labels, minlength=3).tolist() == [30, 15, 5]
    assert torch.equal(sub.meta["row"], take_subset(data, 50, seed=3).meta["row"])
    assert not torch.equal(sub.meta["row"], take_subset(data, 50, seed=4).meta["row"])
    rows = sub.meta["row"].tolist()
    assert rows == sorted(rows) and len(set(rows)) == 50


def test_take_subset_whole_set_and_tiny_limits() -> None:
    data = tensors([0, 1, 2] * 4)
    assert take_subset(data, 12, seed=0) is data and take_subset(data, 100, seed=0) is data
    assert len(take_subset(data, 2, seed=0)) == 2  # fewer rows than classes: plain random
    unlabelled = tensors([-1] * 10, classes=[])
    assert len(take_subset(unlabelled, 4, seed=0)) == 4
    with pytest.raises(DataError, match="at least 1"):
        take_subset(data, 0, seed=0)


def test_splits_of_real_numpy_free_order() -> None:
    # Splitting then subsetting keeps each row's image, label and metadata together.
    data = tensors([i % 3 for i in range(90)])
    train, _ = holdout_split(data, 0.3, seed=0)
    sub = take_subset(train, 21, seed=0)
    rows = sub.meta["row"].long()
    assert torch.equal(sub.labels, data.labels[rows])
    assert np.array_equal(sub.images[:, 0, 0, 0].numpy(), rows.numpy().astype(np.uint8))
