"""npz archives: each layout, float conversion, labels and class names, and malformed archives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from contrastlab.core.errors import DataError
from contrastlab.data import open_source

RNG = np.random.default_rng(7)
NCHW = RNG.integers(0, 256, size=(4, 3, 5, 6), dtype=np.uint8)  # the expected result


def save(tmp_path: Path, **arrays: np.ndarray) -> Path:
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path


def images_of(path: Path) -> torch.Tensor:
    source = open_source(str(path)).train
    return torch.stack([source[i].image for i in range(len(source))])


@pytest.mark.parametrize(
    "layout",
    [
        "NCHW",
        "NHWC",
    ],
)
def test_rgb_layouts_give_the_same_pixels(tmp_path: Path, layout: str) -> None:
    stored = NCHW if layout == "NCHW" else NCHW.transpose(0, 2, 3, 1)
    assert np.array_equal(images_of(save(tmp_path, images=stored)).numpy(), NCHW)


@pytest.mark.parametrize("shape", [(4, 5, 6), (4, 5, 6, 1), (4, 1, 5, 6)])
def test_single_channel_layouts(tmp_path: Path, shape: tuple[int, ...]) -> None:
    grey = NCHW[:, 0]
    got = images_of(save(tmp_path, images=grey.reshape(shape)))
    assert got.shape == (4, 1, 5, 6)
    assert np.array_equal(got[:, 0].numpy(), grey)


def test_ambiguous_shape_is_channels_last(tmp_path: Path) -> None:
    stored = RNG.integers(0, 256, size=(2, 3, 4, 3), dtype=np.uint8)
    got = images_of(save(tmp_path, images=stored))
    assert np.array_equal(got.numpy(), stored.transpose(0, 3, 1, 2))


def test_float_images_in_unit_range_are_scaled(tmp_path: Path) -> None:
    stored = NCHW.astype(np.float32) / 255.0
    got = images_of(save(tmp_path, images=stored))
    assert got.dtype == torch.uint8 and np.array_equal(got.numpy(), NCHW)


def test_labels_and_class_names(tmp_path: Path) -> None:
    labels = np.array([2, 0, 1, 2], dtype=np.int32)
    path = save(tmp_path, images=NCHW, labels=labels, classes=np.array(["a", "b", "c"]))
    source = open_source(str(path)).train
    assert list(source.classes) == ["a", "b", "c"]
    assert [source[i].label for i in range(4)] == [2, 0, 1, 2]


def test_without_labels_is_unlabelled_and_default_class_names(tmp_path: Path) -> None:
    source = open_source(str(save(tmp_path, images=NCHW))).train
    assert list(source.classes) == [] and source[0].label == -1
    other = tmp_path / "other"
    other.mkdir()
    source = open_source(str(save(other, images=NCHW, labels=np.array([0, 3, 1, 1])))).train
    assert list(source.classes) == ["0", "1", "2", "3"]


@pytest.mark.parametrize(
    ("arrays", "needle"),
    [
        ({"pixels": NCHW}, "missing key 'images'"),
        ({"images": NCHW.astype(np.int32)}, "dtype int32"),
        ({"images": NCHW.astype(np.float32)}, "outside [0, 1]"),
        ({"images": np.zeros((2, 5, 6, 5), np.uint8)}, "has shape (2, 5, 6, 5)"),
        ({"images": np.zeros((2, 6), np.uint8)}, "has shape (2, 6)"),
        ({"images": NCHW, "labels": np.zeros(3, np.int64)}, "key 'labels'"),
        ({"images": NCHW, "labels": np.zeros(4, np.float32)}, "key 'labels'"),
    ],
)
def test_malformed_archives_name_file_and_key(
    tmp_path: Path, arrays: dict[str, np.ndarray], needle: str
) -> None:
    path = save(tmp_path, **arrays)
    with pytest.raises(DataError) as err:
        open_source(str(path))
    message = str(err.value)
    assert str(path) in message and needle in message and "\n" not in message


def test_object_arrays_are_refused_not_unpickled(tmp_path: Path) -> None:
    path = save(tmp_path, images=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match="cannot read npz file"):
        open_source(str(path))


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "fake.npz"
    path.write_bytes(b"PK but not really")
    with pytest.raises(DataError, match="cannot read npz file"):
        open_source(str(path))
