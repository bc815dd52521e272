"""Tar archives (``.tar``, ``.tar.gz``, ``.tgz``) of images or of CIFAR python batches.

Any compression `tarfile` reads is accepted. The archive is read once, sequentially, at open
time; the bytes of the members that matter are kept in memory and nothing is extracted to disk
(so no member name can write anywhere). Members that matter are visible regular files that are
images (by extension) or CIFAR batch files (by name). If there are images, the archive is an
image tree with the same layout rules as a folder (`data.layout`), decoded lazily from the kept
bytes; otherwise, if its CIFAR files form one of the official layouts (as in
``cifar-10-python.tar.gz``), it is read as CIFAR. Messages name members as
``archive.tar.gz:member/path``.
"""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contrastlab.data.cifar import is_cifar_layout, is_cifar_name, open_cifar_files
from contrastlab.data.folder import ImageFile, image_tree_splits, is_image_name
from contrastlab.data.options import resolve_options
from contrastlab.data.source import SourceSplits
from contrastlab.errors import DataError

Members = dict[tuple[str, ...], bytes]  # member path components -> member bytes


def _parts(member_name: str) -> tuple[str, ...]:
    """Path components of a member name, without empty or "." components (tar names use "/")."""
    return tuple(p for p in member_name.split("/") if p not in ("", "."))


def read_members(path: Path) -> tuple[Members, Members]:
    """The bytes of the archive's image members and of its CIFAR-named members."""
    images: Members = {}
    cifar: Members = {}
    try:
        with tarfile.open(path, "r|*") as tar:  # one sequential pass, no seeking
            for member in tar:
                parts = _parts(member.name)
                if not member.isfile() or not parts or any(p.startswith(".") for p in parts):
                    continue
                if is_image_name(parts[-1]):
                    target = images
                elif is_cifar_name(parts[-1]):
                    target = cifar
                else:
                    continue
                stream = tar.extractfile(member)
                if stream is not None:
                    target[parts] = stream.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise DataError(f"cannot read archive {path}: {reason}") from err
    return images, cifar


def _open_cifar(path: Path, members: Members, options: Mapping[str, Any] | None) -> SourceSplits:
    files: dict[str, str] = {}
    data: dict[str, bytes] = {}
    for parts, blob in members.items():
        where = f"{path}:{'/'.join(parts)}"
        if parts[-1] in files:
            raise DataError(
                f"ambiguous archive {path}: holds both {files[parts[-1]]} and {where} "
                "(expected a single CIFAR folder)"
            )
        files[parts[-1]] = where
        data[where] = blob
    return open_cifar_files(str(path), files, data.__getitem__, options)


def open_archive(path: Path, options: Mapping[str, Any] | None = None) -> SourceSplits:
    """An image tree or CIFAR batches inside a tar archive (see the module docstring)."""
    images, cifar = read_members(path)
    if images:
        resolve_options(options, {}, str(path))
        files: list[ImageFile] = [
            (parts, f"{path}:{'/'.join(parts)}", blob) for parts, blob in images.items()
        ]
        return image_tree_splits(str(path), files)
    if cifar and is_cifar_layout({parts[-1] for parts in cifar}):
        return _open_cifar(path, cifar, options)
    raise DataError(
        f"no images in archive {path} (no files Pillow can read, and no CIFAR python batches)"
    )
