"""NumPy ``.npz`` archives of images: key ``images`` (required), ``labels``, ``classes``, ``groups``
(optional).

``groups`` (optional, integers (N,)) marks images of the same object or instance (e.g. one object
photographed from many angles); it becomes the metadata ``group`` (`contrastlab analyze
invariance --transforms instance`).
``images`` is uint8 (0..255) or floating point in [0, 1] (scaled by 255 and rounded), shaped
(N, H, W) for one channel, or (N, H, W, C) / (N, C, H, W) with C in {1, 3}. The channel axis is
the one of size 1 or 3: the last axis when its size is 1 or 3 (so an ambiguous (N, 3, 5, 3) array
is read as channels-last), else axis 1 when its size is 1 or 3. ``labels`` is an integer array
(N,) of class indices (-1 marks an unlabelled row); ``classes`` is an array of strings naming
them (default "0".."K-1"). Loaded with ``allow_pickle=False``, so object arrays are refused rather
than unpickled. The whole archive becomes the train split; there is no built-in test split.

NumPy allocates the shape an ``.npy`` header declares before reading any data, so the headers are
read first: an array declaring more bytes than its zip member holds (a damaged or forged header),
or than this machine's memory (`data.limits`), is refused by name instead.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from contrastlab.core.errors import DataError
from contrastlab.data.limits import check_fits
from contrastlab.data.memory import ArraySource, numbered_classes
from contrastlab.data.options import resolve_options
from contrastlab.data.source import SourceSplits

_CHANNELS = (1, 3)
_KEYS = ("images", "labels", "classes", "groups")
# What reading a damaged zip or .npy raises (NotImplementedError: an unsupported compression)
_READ_ERRORS = (OSError, ValueError, EOFError, NotImplementedError, zipfile.BadZipFile, zlib.error)


def _to_nchw(images: np.ndarray, where: str) -> np.ndarray:
    """Reorder a 3- or 4-d image array to (N, C, H, W)."""
    if images.ndim == 3:
        return images[:, None, :, :]
    if images.ndim == 4 and images.shape[-1] in _CHANNELS:
        return images.transpose(0, 3, 1, 2)
    if images.ndim == 4 and images.shape[1] in _CHANNELS:
        return images
    raise DataError(
        f"key 'images' in {where} has shape {images.shape} (expected (N, H, W), (N, H, W, C) "
        "or (N, C, H, W) with C in {1, 3})"
    )


def _to_uint8(images: np.ndarray, where: str) -> np.ndarray:
    expected = "expected uint8 0..255 or float in [0, 1]"
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.floating):
        raise DataError(f"key 'images' in {where} has dtype {images.dtype} ({expected})")
    if images.size and not (np.isfinite(images).all() and 0 <= images.min() <= images.max() <= 1):
        raise DataError(
            f"key 'images' in {where} is {images.dtype} with values outside [0, 1] "
            f"(min {images.min()}, max {images.max()}; {expected})"
        )
    return np.rint(images.astype(np.float64) * 255.0).astype(np.uint8)


def _labels(archive: Mapping[str, np.ndarray], n: int, where: str) -> np.ndarray | None:
    if "labels" not in archive:
        return None
    labels = archive["labels"]
    if not np.issubdtype(labels.dtype, np.integer) or labels.shape != (n,):
        raise DataError(
            f"key 'labels' in {where} is {labels.dtype} {labels.shape} "
            f"(expected integers of shape ({n},))"
        )
    if labels.size and labels.min() < -1:
        raise DataError(
            f"key 'labels' in {where} holds {labels.min()} (expected class indices >= 0, or -1)"
        )
    return labels.astype(np.int64)


def _classes(archive: Mapping[str, np.ndarray], labels: np.ndarray | None, where: str) -> list[str]:
    if labels is None:
        return []
    default = numbered_classes(labels)
    if "classes" not in archive:
        return default
    names = archive["classes"]
    if names.ndim != 1 or names.dtype.kind not in "US" or len(names) < len(default):
        raise DataError(
            f"key 'classes' in {where} must be a 1-d array of at least {len(default)} strings, "
            f"got {names.dtype} {names.shape}"
        )
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist()]


def _groups(groups: np.ndarray, n: int, where: str) -> np.ndarray:
    if not np.issubdtype(groups.dtype, np.integer) or groups.shape != (n,):
        raise DataError(
            f"key 'groups' in {where} is {groups.dtype} {groups.shape} "
            f"(expected integers of shape ({n},): images sharing a value show one object)"
        )
    return groups


def _npy_header(stream: IO[bytes]) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """The shape and dtype an ``.npy`` header declares (format versions 1.0, 2.0 and 3.0)."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version in ((2, 0), (3, 0)):  # 3.0 only allows UTF-8 in the header: ASCII reads alike
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    return shape, dtype


def _check_declared_sizes(archive: zipfile.ZipFile, where: str) -> None:
    """Refuse an array whose header declares more bytes than its member holds or than this
    machine's memory, before NumPy allocates it (looked up as NpzFile does: KEY, then KEY.npy)."""
    names = set(archive.namelist())
    for key in _KEYS:
        member = key if key in names else f"{key}.npy"
        if member not in names:
            continue
        info = archive.getinfo(member)
        with archive.open(info) as stream:
            shape, dtype = _npy_header(stream)
            held = info.file_size - stream.tell()
        if dtype.hasobject:  # refused by allow_pickle=False; its size says nothing
            continue
        declared = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
        what = f"npz file {where}: array '{key}' of shape {shape} and dtype {dtype}"
        if declared > held:
            raise DataError(
                f"{what} declares {declared:,} bytes, but its member {member} holds {held:,} "
                "(a damaged or forged header)"
            )
        check_fits(declared, what)


def open_npz(path: Path, options: Mapping[str, Any] | None = None) -> SourceSplits:
    """Read the whole archive into memory as the train split. Takes no options."""
    where = str(path)
    resolve_options(options, {}, where)
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataError(f"not an npz archive: {where} (it holds a single array; use np.savez)")
        with loaded as npz:
            if "images" not in npz.files:
                found = ", ".join(npz.files) or "none"
                raise DataError(f"missing key 'images' in {where} (found keys: {found})")
            if npz.zip is not None:  # None only once closed
                _check_declared_sizes(npz.zip, where)
            archive = {key: npz[key] for key in _KEYS if key in npz.files}
    except _READ_ERRORS as err:
        reason = " ".join(str(err).split())
        raise DataError(f"cannot read npz file {where}: {reason}") from err
    images = _to_uint8(_to_nchw(archive["images"], where), where)
    labels = _labels(archive, len(images), where)
    meta = {"group": _groups(archive["groups"], len(images), where)} if "groups" in archive else {}
    source = ArraySource(where, images, labels, _classes(archive, labels, where), meta)
    return SourceSplits(train=source, test=None)
