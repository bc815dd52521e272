"""MNIST-style IDX files, raw or gzipped: ``train-images-idx3-ubyte[.gz]`` and its labels file.

Format (from LeCun's MNIST page): two zero bytes, a type code (only 0x08, unsigned byte, is
accepted here), the number of dimensions, one big-endian uint32 per dimension, then the data in
row-major order. Images files have 3 dimensions (N, H, W), labels files 1 (N,). Whole files are
read at open time (MNIST is ~55 MB decoded), after the size the dimensions declare is checked
against the file's byte count and this machine's memory (`data.limits`), so a forged header is
refused by name rather than allocated.

A spec is either an images file, whose labels file is found by replacing ``images-idx3`` with
``labels-idx1`` (when there is none the images are unlabelled), or a directory holding images
files. In a directory, the ``train``-prefixed pair is the train split and the ``t10k``- or
``test``-prefixed pair the test split; a single images file is the train split with no test
split. Class names are "0".."K-1" for labels up to K-1.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import re
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from contrastlab.core.errors import DataError
from contrastlab.data.limits import check_fits
from contrastlab.data.memory import ArraySource, numbered_classes
from contrastlab.data.options import resolve_options
from contrastlab.data.source import SourceSplits

UBYTE = 0x08
_GZIP_MAGIC = b"\x1f\x8b"
_IMAGES_NAME = re.compile(r"^(?P<prefix>.*?)[-.]?images[-.]idx3[-.]ubyte(?:\.gz)?$")
_TRAIN_PREFIXES = ("train",)
_TEST_PREFIXES = ("t10k", "test")
_CHUNK = 1 << 24  # bytes read at a time


def has_idx_magic(path: Path) -> bool:
    """True when the file (gunzipped if need be) starts like an IDX file: 0, 0, 0x08, ndim."""
    try:
        with path.open("rb") as f:
            head = f.read(4)
            if head[:2] == _GZIP_MAGIC:
                f.seek(0)
                with gzip.open(f) as g:
                    head = g.read(4)
    except (OSError, EOFError, zlib.error):
        return False
    return len(head) == 4 and head[:2] == b"\x00\x00" and head[2] == UBYTE and 1 <= head[3] <= 4


def _dims(stream: io.BufferedIOBase, where: str) -> tuple[int, ...]:
    """Read and check the header (zero bytes, type code, dimensions); `stream` is left at the
    data."""
    head = stream.read(4)
    if len(head) < 4 or head[:2] != b"\x00\x00":
        raise DataError(f"not an IDX file: {where} (it does not start with two zero bytes)")
    code, ndim = head[2], head[3]
    if code != UBYTE:
        raise DataError(
            f"unsupported IDX data type 0x{code:02x} in {where} "
            "(only 0x08, unsigned byte, is supported)"
        )
    raw = stream.read(4 * ndim)
    if ndim == 0 or len(raw) < 4 * ndim:
        raise DataError(
            f"truncated IDX header in {where} ({ndim} dimensions, {4 + len(raw)} bytes)"
        )
    dims: tuple[int, ...] = struct.unpack(f">{ndim}I", raw)
    return dims


def _shape(dims: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in dims)


def _check_count(where: str, dims: tuple[int, ...], found: int, more: bool = False) -> None:
    """Refuse data bytes that do not match the shape: `found` of them (`more`: over `found`)."""
    expected = math.prod(dims)  # Python ints: 4 dimensions of up to 2**32 - 1 cannot overflow
    if found == expected and not more:
        return
    state = "is truncated" if found < expected else "has trailing bytes"
    count = f"more than {found}" if more else str(found)
    raise DataError(
        f"IDX file {where} {state}: shape {_shape(dims)} needs {expected} data bytes, found {count}"
    )


def _fill(stream: io.BufferedIOBase, size: int) -> tuple[bytearray, int]:
    """A buffer of `size` bytes filled from `stream` in chunks (no second, temporary copy of
    the whole data), and how many bytes the stream had for it."""
    data = bytearray(size)
    filled = 0
    with memoryview(data) as view:
        while filled < size:
            got = stream.readinto(view[filled : filled + _CHUNK])
            if not got:
                break
            filled += got
    return data, filled


def _read_data(stream: io.BufferedIOBase, size_on_disk: int | None, where: str) -> np.ndarray:
    """The array of an IDX stream; `size_on_disk` is the file's byte count (None if gzipped)."""
    dims = _dims(stream, where)
    if size_on_disk is not None:  # a raw file: its byte count is known before any allocation
        _check_count(where, dims, size_on_disk - 4 - 4 * len(dims))
    check_fits(math.prod(dims), f"IDX file {where} of shape {_shape(dims)}")
    data, found = _fill(stream, math.prod(dims))
    _check_count(where, dims, found, more=found == len(data) and bool(stream.read(1)))
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def read_idx(path: Path) -> np.ndarray:
    """Decode one IDX file (raw or gzipped) into a uint8 array of the stored shape.

    The size its header declares is checked against the file's byte count (raw files) and this
    machine's memory before it is allocated; gzipped data is read no further than that size.
    """
    try:
        with path.open("rb") as raw:
            if raw.read(2) == _GZIP_MAGIC:
                raw.seek(0)
                with gzip.GzipFile(fileobj=raw) as unzipped:
                    return _read_data(unzipped, None, str(path))
            raw.seek(0)
            return _read_data(raw, os.fstat(raw.fileno()).st_size, str(path))
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"cannot read IDX file {path}: {err}") from err


def labels_path_for(images: Path) -> Path | None:
    """The existing labels file for an images file (``images-idx3`` -> ``labels-idx1``), if any.

    Tries the same compression first, then the other (``.gz`` added or removed).
    """
    name = re.sub(r"images([-.])idx3", r"labels\1idx1", images.name)
    if name == images.name:
        return None
    stem = name.removesuffix(".gz")
    for candidate in (name, stem, stem + ".gz"):
        if images.with_name(candidate).is_file():
            return images.with_name(candidate)
    return None


def _load_pair(images_path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    images = read_idx(images_path)
    if images.ndim != 3:
        raise DataError(
            f"IDX images file {images_path} has {images.ndim} dimensions "
            "(expected 3: count, height, width)"
        )
    labels_path = labels_path_for(images_path)
    if labels_path is None:
        return images, None
    labels = read_idx(labels_path)
    if labels.ndim != 1:
        raise DataError(f"IDX labels file {labels_path} has {labels.ndim} dimensions (expected 1)")
    if len(labels) != len(images):
        raise DataError(
            f"IDX labels file {labels_path} holds {len(labels)} labels but {images_path} holds "
            f"{len(images)} images"
        )
    return images, labels.astype(np.int64)


def _source(
    path: Path, images: np.ndarray, labels: np.ndarray | None, classes: list[str]
) -> ArraySource:
    names = classes if labels is not None else []
    return ArraySource(str(path), images[:, None, :, :], labels, names)


def open_idx_file(path: Path, options: Mapping[str, Any] | None = None) -> SourceSplits:
    """One IDX images file (with its labels file, if present) as the train split. No options."""
    resolve_options(options, {}, str(path))
    images, labels = _load_pair(path)
    return SourceSplits(train=_source(path, images, labels, numbered_classes(labels)), test=None)


def _images_files(directory: Path) -> list[Path]:
    """Images files in `directory`, one per prefix (preferring uncompressed), sorted by name."""
    by_prefix: dict[str, Path] = {}
    for entry in sorted(directory.iterdir(), key=lambda p: (p.name.endswith(".gz"), p.name)):
        match = _IMAGES_NAME.match(entry.name)
        if match and not entry.name.startswith(".") and entry.is_file():
            by_prefix.setdefault(match.group("prefix"), entry)
    return sorted(by_prefix.values())


def is_idx_directory(directory: Path) -> bool:
    """True when `directory` holds at least one ``*-images-idx3-ubyte[.gz]`` file."""
    return bool(_images_files(directory))


def _with_prefix(files: list[Path], prefixes: tuple[str, ...]) -> list[Path]:
    chosen = []
    for f in files:
        match = _IMAGES_NAME.match(f.name)
        if match and match.group("prefix").lower().endswith(prefixes):
            chosen.append(f)
    return chosen


def open_idx_directory(directory: Path, options: Mapping[str, Any] | None = None) -> SourceSplits:
    """The IDX images files of a directory: train (``train*``), test (``t10k*``/``test*``)."""
    resolve_options(options, {}, str(directory))
    files = _images_files(directory)
    if len(files) == 1:
        return open_idx_file(files[0])
    train_files = _with_prefix(files, _TRAIN_PREFIXES)
    test_files = _with_prefix(files, _TEST_PREFIXES)
    if len(train_files) != 1 or len(test_files) > 1:
        names = ", ".join(f.name for f in files)
        raise DataError(
            f"ambiguous IDX directory {directory}: images files {names} (expected one train-* "
            "and at most one t10k-*/test-* images file, or a single one; or give the file itself)"
        )
    train_images, train_labels = _load_pair(train_files[0])
    test_images, test_labels = _load_pair(test_files[0]) if test_files else (None, None)
    classes = numbered_classes(train_labels, test_labels)
    train = _source(train_files[0], train_images, train_labels, classes)
    test = None
    if test_images is not None:
        test = _source(test_files[0], test_images, test_labels, classes)
    return SourceSplits(train=train, test=test)
