"""MNIST IDX files: exact round trips, raw and gzipped, directories, and malformed files."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

from contrastlab.core.errors import DataError
from contrastlab.data import materialize, open_source
from contrastlab.data.idx import labels_path_for

if TYPE_CHECKING:
    from conftest import DataFiles


def write_pair(
    files: DataFiles, prefix: str, n: int, gz: bool, labels: bool = True
) -> tuple[Path, np.ndarray, np.ndarray]:
    images = files.rng.integers(0, 256, size=(n, 5, 4), dtype=np.uint8)
    targets = files.rng.integers(0, 10, size=n, dtype=np.uint8)
    suffix = ".gz" if gz else ""
    path = files.idx(f"mnist/{prefix}-images-idx3-ubyte{suffix}", images)
    if labels:
        files.idx(f"mnist/{prefix}-labels-idx1-ubyte{suffix}", targets)
    return path, images, targets


def stacked(source: object, n: int) -> tuple[torch.Tensor, list[int]]:
    samples = [source[i] for i in range(n)]  # type: ignore[index]
    return torch.stack([s.image for s in samples]), [s.label for s in samples]


@pytest.mark.parametrize("gz", [False, True])
def test_images_file_round_trips_exactly(files: DataFiles, gz: bool) -> None:
    path, images, targets = write_pair(files, "train", 7, gz)
    splits = open_source(str(path))
    assert splits.test is None and len(splits.train) == 7
    got, labels = stacked(splits.train, 7)
    assert got.shape == (7, 1, 5, 4)
    assert np.array_equal(got[:, 0].numpy(), images)
    assert labels == targets.tolist()
    assert list(splits.train.classes) == [str(d) for d in range(int(targets.max()) + 1)]


def test_directory_with_train_and_t10k_pairs(files: DataFiles) -> None:
    _, train_images, train_labels = write_pair(files, "train", 6, gz=True)
    _, test_images, test_labels = write_pair(files, "t10k", 4, gz=False)
    splits = open_source(str(files.root / "mnist"))
    assert splits.test is not None
    assert (len(splits.train), len(splits.test)) == (6, 4)
    data = materialize(splits.test, image_size=4, channels=1)
    assert data.labels.tolist() == test_labels.tolist()
    assert data.images.shape == (4, 1, 4, 4)  # 5x4 resized to 5x4 then centre-cropped
    got, labels = stacked(splits.train, 6)
    assert np.array_equal(got[:, 0].numpy(), train_images)
    assert labels == train_labels.tolist()
    got, _ = stacked(splits.test, 4)
    assert np.array_equal(got[:, 0].numpy(), test_images)
    assert list(splits.train.classes) == list(splits.test.classes)


def test_directory_with_only_a_test_pair_uses_it_for_training(files: DataFiles) -> None:
    _, images, _ = write_pair(files, "t10k", 3, gz=True)
    splits = open_source(str(files.root / "mnist"))
    assert splits.test is None and len(splits.train) == 3
    assert torch.equal(splits.train[2].image[0], torch.from_numpy(images[2]))


def test_missing_labels_file_means_unlabelled(files: DataFiles) -> None:
    path, _, _ = write_pair(files, "train", 3, gz=False, labels=False)
    splits = open_source(str(path))
    assert list(splits.train.classes) == []
    assert [splits.train[i].label for i in range(3)] == [-1, -1, -1]


def test_labels_file_is_found_by_name_substitution(tmp_path: Path) -> None:
    images = tmp_path / "train-images.idx3-ubyte"
    labels = tmp_path / "train-labels.idx1-ubyte.gz"
    images.write_bytes(b"")
    labels.write_bytes(b"")
    assert labels_path_for(images) == labels


def test_wrong_magic_names_the_file(files: DataFiles) -> None:
    path = files.path("x/train-images-idx3-ubyte")
    path.write_bytes(b"\x01\x02\x08\x03" + bytes(20))
    with pytest.raises(DataError) as err:
        open_source(str(path))
    assert str(path) in str(err.value) and "two zero bytes" in str(err.value)


def test_unsupported_dtype_code(files: DataFiles) -> None:
    path = files.idx("x/train-images-idx3-ubyte", np.zeros((2, 3, 3), np.uint8), code=0x0D)
    with pytest.raises(DataError, match=r"unsupported IDX data type 0x0d.*only 0x08"):
        open_source(str(path))


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data_names_the_file(files: DataFiles, gz: bool) -> None:
    path = files.idx("x/train-images-idx3-ubyte", np.zeros((4, 3, 3), np.uint8))
    data = path.read_bytes()[:-5]
    if gz:
        path.unlink()
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    with pytest.raises(DataError) as err:
        open_source(str(path))
    message = str(err.value)
    assert str(path) in message and "truncated" in message and "36" in message and "31" in message


def test_label_count_mismatch(files: DataFiles) -> None:
    path = files.idx("x/train-images-idx3-ubyte", np.zeros((4, 3, 3), np.uint8))
    files.idx("x/train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(DataError, match=r"holds 3 labels but .* holds 4 images"):
        open_source(str(path))


def test_images_file_recognised_by_magic_without_idx_name(files: DataFiles) -> None:
    images = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    path = files.idx("x/digits.bin", images)
    splits = open_source(str(path))
    assert torch.equal(splits.train[1].image[0], torch.from_numpy(images[1]))
