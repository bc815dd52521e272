"""Sizes a data file declares are checked before anything of that size is allocated (tar members,
npz headers, IDX dimensions), and 1-pixel images are refused from every source, not only files."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from contrastlab.core.errors import DataError
from contrastlab.data import limits, open_source
from contrastlab.data.archive import CIFAR_MEMBER_BYTES

HUGE = 600_000_000  # the member: 600 MB of zeros in a ~0.6 MB tar.gz
BOMB = "data/cats/huge.bmp"
SMALL_PEAK = 32 * 2**20  # far below any of the sizes declared here


def zero_member_tar_gz(path: Path, name: str, size: int) -> Path:
    """A complete, valid tar.gz holding one member of `size` zero bytes, built in ~0.1 s.

    Deflate's output for a block of zeros after a full flush is the same every time, so one
    compressed block is repeated instead of compressing `size` bytes.
    """
    info = tarfile.TarInfo(name)
    info.size = size
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    zeros = size + (-size % 512) + 1024  # data, its padding, the end-of-archive blocks
    chunk = bytes(1 << 20)
    count, rest = divmod(zeros, len(chunk))
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [deflate.compress(header), deflate.flush(zlib.Z_FULL_FLUSH)]
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    parts += [block] * count + [deflate.compress(bytes(rest)), deflate.flush()]
    crc = zlib.crc32(header)
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(bytes(rest), crc)
    trailer = struct.pack("<II", crc, (len(header) + zeros) & 0xFFFFFFFF)
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + b"".join(parts) + trailer)
    return path


def refused(spec: Path) -> tuple[str, int]:
    """The DataError message of opening `spec`, and the peak of Python allocations meanwhile."""
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as caught:
            open_source(str(spec))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert "\n" not in message and str(spec) in message
    return message, peak


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's archive: a ~0.6 MB tar.gz whose image member holds 600 MB."""
    return zero_member_tar_gz(tmp_path_factory.mktemp("bomb") / "bomb.tar.gz", BOMB, HUGE)


def test_tar_member_declaring_600_mb_is_refused_before_it_is_read(bomb: Path) -> None:
    archive = bomb
    assert archive.stat().st_size < 1_000_000
    message, peak = refused(archive)
    cap = 4 * Image.MAX_IMAGE_PIXELS  # type: ignore[operator]
    assert f"{archive}:{BOMB}" in message
    assert f"{HUGE:,} bytes" in message and f"{cap:,}" in message
    assert peak < SMALL_PEAK, f"peak {peak:,} bytes"


def test_tar_cifar_member_over_its_cap_is_refused(tmp_path: Path) -> None:
    size = CIFAR_MEMBER_BYTES + 1
    archive = zero_member_tar_gz(tmp_path / "c.tar.gz", "cifar-10-batches-py/data_batch_1", size)
    message, peak = refused(archive)
    assert f"{archive}:cifar-10-batches-py/data_batch_1" in message
    assert f"{size:,} bytes" in message and f"{CIFAR_MEMBER_BYTES:,}" in message
    assert peak < SMALL_PEAK, f"peak {peak:,} bytes"


def png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (9, 99, 199)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_tar_total_is_bounded_by_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "three.tar"
    blobs = [png(4), png(5), png(6)]
    with tarfile.open(archive, "w") as tar:
        for index, blob in enumerate(blobs):
            info = tarfile.TarInfo(f"a/{index}.png")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    monkeypatch.setattr(limits, "memory_bytes", lambda: len(blobs[0]) + len(blobs[1]) + 1)
    message, _ = refused(archive)
    assert f"{archive}:a/2.png" in message and "this machine's memory" in message
    monkeypatch.setattr(limits, "memory_bytes", lambda: sum(map(len, blobs)))
    assert len(open_source(str(archive)).train) == 3  # exactly at the bound: accepted


def npy(shape: tuple[int, ...], data: bytes) -> bytes:
    """An .npy file whose header declares `shape` (uint8), followed by `data`."""
    buffer = io.BytesIO()
    header = {"descr": "|u1", "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + data


@pytest.mark.parametrize("shape", [(10**9, 1024, 1024), (1024, 1024, 1024)])
def test_npz_header_declaring_more_than_its_member_is_refused(
    tmp_path: Path, shape: tuple[int, ...]
) -> None:
    path = tmp_path / "forged.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("images.npy", npy(shape, bytes(4 * 5 * 6)))
    message, peak = refused(path)
    assert f"array 'images' of shape {shape}" in message and "holds 120" in message
    assert peak < SMALL_PEAK, f"peak {peak:,} bytes"


def test_npz_over_memory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fits.npz"
    np.savez(path, images=np.zeros((4, 5, 6), np.uint8))
    monkeypatch.setattr(limits, "memory_bytes", lambda: 119)
    message, _ = refused(path)
    assert "array 'images' of shape (4, 5, 6)" in message and "this machine's memory" in message
    monkeypatch.setattr(limits, "memory_bytes", lambda: 120)
    assert len(open_source(str(path)).train) == 4


def idx_file(path: Path, dims: tuple[int, ...], data: bytes, gz: bool = False) -> Path:
    raw = bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + data
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@pytest.mark.parametrize(
    ("gz", "needle"),
    [
        (False, f"is truncated: shape 4x2147483648x2147483648 needs {2**64} data bytes, found 0"),
        (True, f"of shape 4x2147483648x2147483648 declares {2**64:,} bytes, more than this"),
    ],
    ids=["raw", "gz"],
)
def test_idx_dimensions_overflowing_int64_are_refused(
    tmp_path: Path, gz: bool, needle: str
) -> None:
    # 4 * 2**31 * 2**31 = 2**64 bytes, which wraps to 0 in int64: the empty data "matched" it
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    path = idx_file(tmp_path / name, (4, 2**31, 2**31), b"", gz)
    message, peak = refused(path)
    assert needle in message
    assert peak < SMALL_PEAK, f"peak {peak:,} bytes"


def test_gzipped_idx_over_memory_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = idx_file(tmp_path / "train-images-idx3-ubyte.gz", (3, 4, 5), bytes(60), gz=True)
    monkeypatch.setattr(limits, "memory_bytes", lambda: 59)
    message, _ = refused(path)
    assert "shape 3x4x5" in message and "this machine's memory" in message


ONE_PIXEL = "pixels, and every side must be at least 2"  # the words image files are refused in


def one_pixel_npz(tmp_path: Path) -> Path:
    path = tmp_path / "thin.npz"
    np.savez(path, images=np.zeros((3, 7, 1, 3), np.uint8))  # NHWC, 1 pixel wide
    return path


def one_pixel_idx(tmp_path: Path) -> Path:
    return idx_file(tmp_path / "train-images-idx3-ubyte", (3, 1, 7), bytes(21))


@pytest.mark.parametrize(
    ("write", "size"), [(one_pixel_npz, "1x7"), (one_pixel_idx, "7x1")], ids=["npz", "idx"]
)
def test_one_pixel_images_are_refused_from_arrays_as_from_files(
    tmp_path: Path, write: Callable[[Path], Path], size: str
) -> None:
    message, _ = refused(write(tmp_path))
    assert f"they are {size} {ONE_PIXEL}" in message


def test_cli_names_the_huge_member_in_one_line(bomb: Path, tmp_path: Path, harness: Any) -> None:
    out = tmp_path / "run"
    line = harness.error(harness.cli("train", "--data", str(bomb), "--out", str(out)))
    assert f"{bomb}:{BOMB}" in line and f"{HUGE:,} bytes" in line
    assert not (out / "checkpoints").exists()
