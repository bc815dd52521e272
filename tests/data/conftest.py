"""Writers for small sample data files (images, IDX, npz, CIFAR pickles, tars) used by the tests.

Every test writes the files it reads into its own tmp_path, so the suite needs no downloaded data.
"""

from __future__ import annotations

import gzip
import pickle
import struct
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image


class DataFiles:
    """Helpers that write files in the formats the data sources read."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rng = np.random.default_rng(1234)

    def path(self, relative: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def pixels(self, height: int, width: int, channels: int = 3) -> np.ndarray:
        """Random uint8 pixels (H, W, C), or (H, W) for one channel."""
        shape = (height, width) if channels == 1 else (height, width, channels)
        return self.rng.integers(0, 256, size=shape, dtype=np.uint8)

    def image(self, relative: str, array: np.ndarray, **save: Any) -> Path:
        """Save an array with Pillow; the format follows the file extension."""
        path = self.path(relative)
        Image.fromarray(array).save(path, **save)
        return path

    def idx(self, relative: str, array: np.ndarray, *, code: int = 0x08) -> Path:
        """Write an IDX file (gzipped when the name ends in .gz)."""
        header = struct.pack(">BBBB", 0, 0, code, array.ndim)
        header += struct.pack(f">{array.ndim}I", *array.shape)
        data = header + array.astype(np.uint8).tobytes()
        path = self.path(relative)
        path.write_bytes(gzip.compress(data) if relative.endswith(".gz") else data)
        return path

    def pickle(self, relative: str, obj: object) -> Path:
        path = self.path(relative)
        path.write_bytes(pickle.dumps(obj, protocol=2))
        return path

    def tar(self, relative: str, source_dir: Path, arcname: str) -> Path:
        """Pack `source_dir` into a tar (compressed as the name says) under `arcname`."""
        path = self.path(relative)
        mode = "w:gz" if relative.endswith((".gz", ".tgz")) else "w"
        with tarfile.open(path, mode) as tar:
            tar.add(source_dir, arcname=arcname)
        return path


@pytest.fixture
def files(tmp_path: Path) -> DataFiles:
    """Writers rooted at this test's tmp_path."""
    return DataFiles(tmp_path)
