"""How a spec (a built-in name or a path) becomes a data source (`contrastlab.data.source`).

A source yields decoded uint8 images one at a time; training code turns it into tensors once
with `contrastlab.data.tensors.materialize`. `open_source` is the only entry point users need: it
looks at the spec and hands it to the reader for that kind of data.

Dispatch, in order:

* ``shapes`` / ``digits`` / ``sequences``: the built-in sources (`data.shapes`, `data.digits`,
  `data.sequences`).
* a directory: CIFAR python pickle batches if it holds ``data_batch_*`` / ``test_batch`` or
  CIFAR-100's ``train``/``test`` + ``meta`` files (`data.cifar`); MNIST IDX if it holds
  ``*-images-idx3-ubyte[.gz]`` files (`data.idx`); otherwise an image folder (`data.folder`).
* a file: ``.npz`` (`data.npz`); ``.tar``/``.tar.gz``/``.tgz``, an image tree or CIFAR pickles
  inside (`data.archive`); an IDX file, recognised by its ``idxN-ubyte`` name (raw or gzipped) or
  its magic bytes; a single CIFAR pickle batch, recognised by its pickle header; a video file
  (``.mp4``, ``.avi``, ``.mov``, ``.mkv``, ``.webm``): one sequence of frames (`data.video`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contrastlab.core.errors import DataError
from contrastlab.data import archive, cifar, folder, idx, npz, video
from contrastlab.data.digits import open_digits
from contrastlab.data.generated import check_generated
from contrastlab.data.sequences import open_sequences
from contrastlab.data.shapes import open_shapes
from contrastlab.data.source import BUILTIN_SOURCES, TAR_SUFFIXES, SourceSplits

__all__ = ["open_source"]

_IDX_NAME = re.compile(r"idx\d-ubyte(\.gz)?$")


def open_source(
    spec: str, *, image_size: int = 32, options: Mapping[str, Any] | None = None
) -> SourceSplits:
    """Open the data named by `spec`: a built-in name (see BUILTIN_SOURCES) or a path.

    `image_size` is used only by sources that render their images (shapes); the others yield
    images at their stored size and `materialize` conforms them. `options` are source-specific
    keyword options (e.g. shapes' ``n_train``); one the source does not know raises DataError
    naming it and listing the valid ones. Every failure (missing path, empty folder, unreadable
    file, bad option) raises DataError with a one-line message.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise DataError(f"image_size must be a positive integer, got {image_size!r}")
    opts: Mapping[str, Any] = dict(options) if options else {}
    if spec in BUILTIN_SOURCES:
        return _open_builtin(spec, image_size, opts)
    path = Path(spec).expanduser()
    try:
        exists = path.exists()
    except OSError as err:
        raise DataError(f"cannot access {spec}: {err.strerror}") from err
    if not exists:
        builtins = ", ".join(BUILTIN_SOURCES)
        if _looks_like_path(spec):
            raise DataError(
                f"no such file or directory: {path} (give a path or one of: {builtins})"
            )
        raise DataError(
            f"unknown data source {spec!r}: neither a built-in ({builtins}) nor an existing path"
        )
    if path.is_dir():
        return _open_directory(path, opts)
    if path.is_file():
        return _open_file(path, opts)
    raise DataError(f"not a regular file or directory: {path} (give an image folder or data file)")


def _looks_like_path(spec: str) -> bool:
    """True when `spec` was evidently meant as a path rather than a (misspelt) built-in name."""
    return "/" in spec or "\\" in spec or "." in spec or spec.startswith("~")


def _open_builtin(spec: str, image_size: int, options: Mapping[str, Any]) -> SourceSplits:
    check_generated(spec, options, image_size, 1)  # before a terabyte of images is attempted
    if spec == "shapes":
        return open_shapes(image_size=image_size, options=options)
    if spec == "sequences":
        return open_sequences(image_size=image_size, options=options)
    return open_digits(options=options)


def _open_directory(path: Path, options: Mapping[str, Any]) -> SourceSplits:
    if cifar.is_cifar_directory(path):
        return cifar.open_cifar_directory(path, options=options)
    if idx.is_idx_directory(path):
        return idx.open_idx_directory(path, options=options)
    return folder.open_image_folder(path, options=options)


def _open_file(path: Path, options: Mapping[str, Any]) -> SourceSplits:
    lower = path.name.lower()
    if lower.endswith(".npz"):
        return npz.open_npz(path, options=options)
    if lower.endswith(TAR_SUFFIXES):
        return archive.open_archive(path, options=options)
    if lower.endswith(video.VIDEO_SUFFIXES):
        return video.open_video(path, options=options)
    if _IDX_NAME.search(lower) or idx.has_idx_magic(path):
        return idx.open_idx_file(path, options=options)
    if cifar.has_pickle_header(path):
        return cifar.open_cifar_file(path, options=options)
    raise DataError(
        f"unrecognised data file: {path} (expected .npz, .tar/.tar.gz/.tgz, an IDX file such as "
        "train-images-idx3-ubyte[.gz], a CIFAR pickle batch, a video (.mp4, .avi, .mov, .mkv, "
        ".webm, .m4v), or a folder of images)"
    )
