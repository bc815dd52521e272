"""Opening and materializing the real CIFAR-10 JPEG tar (50,000 images), when it is present.

Run with ``pytest -m slow tests/data/test_real_cifar.py``. The data lives outside the project in
``../shared/datasets``; without it the test is skipped.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from contrastlab.data import materialize, open_source

ARCHIVE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "datasets"
    / "cifar10-jpg"
    / "cifar10-train-jpg.tar.gz"
)
CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


@pytest.mark.slow
@pytest.mark.skipif(not ARCHIVE.is_file(), reason=f"{ARCHIVE} is absent")
def test_cifar10_jpeg_tar_opens_and_materializes_in_under_a_minute() -> None:
    start = time.perf_counter()
    splits = open_source(str(ARCHIVE))
    opened = time.perf_counter()
    data = materialize(splits.train, image_size=32)
    done = time.perf_counter()
    print(f"open {opened - start:.1f}s, materialize {done - opened:.1f}s")
    assert splits.test is None  # the tar holds train/<class>/NNNN.jpg only
    assert data.classes == CLASSES
    assert data.images.shape == (50000, 3, 32, 32) and data.images.dtype == torch.uint8
    assert torch.bincount(data.labels).tolist() == [5000] * 10
    assert 60 < float(data.images.float().mean()) < 200  # real photographs, not blank
    assert done - start < 60
