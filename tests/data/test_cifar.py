"""CIFAR python batches: folders, single files, tar.gz archives, CIFAR-100 label kinds, errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

from contrastlab.core.errors import DataError
from contrastlab.data import ImageSource, open_source

if TYPE_CHECKING:
    from conftest import DataFiles

NAMES = [b"airplane", b"automobile", b"bird"]


def rows(n: int, offset: int) -> np.ndarray:
    """Rows whose planes are recognisable: image i has red = offset + i everywhere, green = its
    pixel row index, blue = 255 - offset - i."""
    planes = np.empty((n, 3, 32, 32), dtype=np.uint8)
    for i in range(n):
        planes[i, 0] = offset + i
        planes[i, 1] = np.arange(32, dtype=np.uint8)[:, None]
        planes[i, 2] = 255 - offset - i
    return planes.reshape(n, 3 * 32 * 32)


def batch(n: int, offset: int, labels: list[int]) -> dict[bytes, object]:
    # Bytes keys and a plain list of labels, as in the official (Python 2) pickles.
    return {b"batch_label": b"x", b"data": rows(n, offset), b"labels": labels}


def write_cifar10(files: DataFiles, folder: str) -> Path:
    files.pickle(f"{folder}/data_batch_1", batch(3, 10, [0, 1, 2]))
    files.pickle(f"{folder}/data_batch_2", batch(2, 20, [2, 2]))
    files.pickle(f"{folder}/test_batch", batch(2, 30, [1, 0]))
    files.pickle(f"{folder}/batches.meta", {b"label_names": NAMES, b"num_vis": 3072})
    files.path(f"{folder}/readme.html").write_text("<html/>")
    return files.root / folder


def check_cifar10(train: ImageSource, test: ImageSource | None) -> None:
    assert test is not None
    assert list(train.classes) == ["airplane", "automobile", "bird"] == list(test.classes)
    assert (len(train), len(test)) == (5, 2)
    assert [train[i].label for i in range(5)] == [0, 1, 2, 2, 2]  # batch 1 then batch 2
    assert [test[i].label for i in range(2)] == [1, 0]
    image = train[3].image  # first image of data_batch_2: offset 20
    assert image.shape == (3, 32, 32) and image.dtype == torch.uint8
    assert bool((image[0] == 20).all()) and bool((image[2] == 235).all())
    assert torch.equal(image[1], torch.arange(32, dtype=torch.uint8)[:, None].expand(32, 32))
    assert bool((test[1].image[0] == 31).all())


def test_cifar10_folder(files: DataFiles) -> None:
    splits = open_source(str(write_cifar10(files, "cifar-10-batches-py")))
    check_cifar10(splits.train, splits.test)


def test_cifar10_tar_gz(files: DataFiles) -> None:
    folder = write_cifar10(files, "cifar-10-batches-py")
    archive = files.tar("cifar-10-python.tar.gz", folder, arcname="cifar-10-batches-py")
    splits = open_source(str(archive))
    check_cifar10(splits.train, splits.test)


def test_single_batch_file_uses_meta_beside_it(files: DataFiles) -> None:
    folder = write_cifar10(files, "c10")
    splits = open_source(str(folder / "data_batch_2"))
    assert splits.test is None and len(splits.train) == 2
    assert list(splits.train.classes) == ["airplane", "automobile", "bird"]
    lone = files.pickle("lone/test_batch", batch(2, 5, [0, 4]))
    assert list(open_source(str(lone)).train.classes) == ["0", "1", "2", "3", "4"]


def test_only_test_batch_becomes_train(files: DataFiles) -> None:
    files.pickle("only/test_batch", batch(2, 30, [1, 0]))
    files.pickle("only/batches.meta", {b"label_names": NAMES})
    splits = open_source(str(files.root / "only"))
    assert splits.test is None and len(splits.train) == 2


def write_cifar100(files: DataFiles) -> Path:
    def entries(n: int, offset: int, fine: list[int], coarse: list[int]) -> dict[str, object]:
        # str keys this time: both spellings must be accepted.
        return {"data": rows(n, offset), "fine_labels": fine, "coarse_labels": coarse}

    files.pickle("c100/train", entries(3, 0, [3, 0, 1], [1, 0, 0]))
    files.pickle("c100/test", entries(1, 50, [2], [1]))
    meta = {"fine_label_names": ["f0", "f1", "f2", "f3"], "coarse_label_names": ["c0", "c1"]}
    files.pickle("c100/meta", meta)
    return files.root / "c100"


def test_cifar100_fine_labels_by_default(files: DataFiles) -> None:
    splits = open_source(str(write_cifar100(files)))
    assert splits.test is not None
    assert list(splits.train.classes) == ["f0", "f1", "f2", "f3"]
    assert [splits.train[i].label for i in range(3)] == [3, 0, 1]
    assert splits.test[0].label == 2 and bool((splits.test[0].image[0] == 50).all())


def test_cifar100_coarse_labels(files: DataFiles) -> None:
    splits = open_source(str(write_cifar100(files)), options={"label_kind": "coarse"})
    assert list(splits.train.classes) == ["c0", "c1"]
    assert [splits.train[i].label for i in range(3)] == [1, 0, 0]


def test_label_kind_errors(files: DataFiles) -> None:
    with pytest.raises(DataError, match=r"label_kind='medium'.*one of: fine, coarse"):
        open_source(str(write_cifar100(files)), options={"label_kind": "medium"})
    with pytest.raises(DataError, match="needs CIFAR-100"):
        open_source(str(write_cifar10(files, "c10")), options={"label_kind": "coarse"})
    with pytest.raises(DataError, match=r"unknown option 'n_train'.*valid: label_kind"):
        open_source(str(write_cifar10(files, "c10")), options={"n_train": 1})


def test_damaged_batches_name_the_file(files: DataFiles) -> None:
    folder = write_cifar10(files, "c10")
    (folder / "data_batch_2").write_bytes(b"\x80\x02 truncated pickle")
    with pytest.raises(DataError) as err:
        open_source(str(folder))
    assert f"cannot unpickle CIFAR file {folder / 'data_batch_2'}" in str(err.value)
    files.pickle("c10/data_batch_2", {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 0]})
    with pytest.raises(DataError, match=r"expected uint8 \(N, 3072\)"):
        open_source(str(folder))
    files.pickle("c10/data_batch_2", {b"data": rows(2, 0), b"labels": [0]})
    with pytest.raises(DataError, match="holds 2 images but 1 labels"):
        open_source(str(folder))
    files.pickle("c10/data_batch_2", {b"data": rows(2, 0), b"labels": [0, 7]})
    with pytest.raises(DataError, match=r"range over 0\.\.7 but there are 3 classes"):
        open_source(str(folder))
