"""Tar archives (``.tar``, ``.tar.gz``, ``.tgz``) of images or of CIFAR python batches.

Any compression `tarfile` reads is accepted. The archive is read once, sequentially, at open
time; the bytes of the members that matter are kept in memory and nothing is extracted to disk
(so no member name can write anywhere). Members that matter are visible regular files that are
images (by extension) or CIFAR batch files (by name). If there are images, the archive is an
image tree with the same layout rules as a folder (`data.layout`), decoded lazily from the kept
bytes; otherwise, if its CIFAR files form one of the official layouts (as in
``cifar-10-python.tar.gz``), it is read as CIFAR. Messages name members as
``archive.tar.gz:member/path``.

A member's size is checked, as its header declares it, before the member is read: over
`member_cap` (more than any real image or CIFAR file), or taking what is kept past this machine's
memory, it is refused with a message naming it, so a small archive cannot make the reader
allocate gigabytes.
"""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from contrastlab.core.errors import DataError
from contrastlab.data import limits
from contrastlab.data.cifar import is_cifar_layout, is_cifar_name, open_cifar_files
from contrastlab.data.folder import image_tree_splits
from contrastlab.data.image_files import ImageFile, is_image_name
from contrastlab.data.options import resolve_options
from contrastlab.data.source import SourceSplits

Members = dict[tuple[str, ...], bytes]  # member path components -> member bytes

# The cap on a CIFAR-named member: CIFAR-100's train file (50,000 images) is ~155 MB.
CIFAR_MEMBER_BYTES = 256 * 2**20
# The cap on an image member per pixel of Pillow's limit: 8-bit RGBA, stored uncompressed.
_BYTES_PER_PIXEL = 4


def _parts(member_name: str) -> tuple[str, ...]:
    """Path components of a member name, without empty or "." components (tar names use "/")."""
    return tuple(p for p in member_name.split("/") if p not in ("", "."))


def member_cap(name: str) -> tuple[int, str] | None:
    """The most bytes a kept member may have, and why: more than any real one of its kind.

    None for an image when ``PIL.Image.MAX_IMAGE_PIXELS`` is None (the user lifted Pillow's
    limit on purpose); the archive's total is still bounded then.
    """
    if is_cifar_name(name):
        return CIFAR_MEMBER_BYTES, "CIFAR-100's train file, the largest CIFAR file, is ~155 MB"
    pixels = Image.MAX_IMAGE_PIXELS
    if pixels is None:
        return None
    reason = (
        f"an uncompressed RGBA image at PIL.Image.MAX_IMAGE_PIXELS={pixels}, the largest that "
        "can be decoded; raise that limit in your own code to accept larger images"
    )
    return _BYTES_PER_PIXEL * int(pixels), reason


def _check_size(where: str, name: str, size: int, kept: int) -> None:
    """Refuse a member, before reading it, whose declared size is over its cap, or that would
    take the bytes kept from the archive past this machine's memory."""
    cap = member_cap(name)
    if cap is not None and size > cap[0]:
        raise DataError(
            f"archive member {where} declares {size:,} bytes, more than the cap of {cap[0]:,} "
            f"({cap[1]})"
        )
    memory = limits.memory_bytes()
    if kept + size > memory:
        raise DataError(
            f"archive member {where} ({size:,} bytes) takes what is kept from the archive past "
            f"this machine's memory ({memory:,} bytes); extract the archive and give the folder"
        )


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, where: str) -> bytes | None:
    """A member's bytes, read no further than its declared size (None for no data)."""
    stream = tar.extractfile(member)
    if stream is None:
        return None
    with stream:
        data = stream.read(member.size + 1)
    if len(data) > member.size:
        raise DataError(f"archive member {where} holds more than the {member.size:,} it declares")
    return data


def read_members(path: Path) -> tuple[Members, Members]:
    """The bytes of the archive's image members and of its CIFAR-named members.

    Each member's declared size is checked (`member_cap`, and the total against this machine's
    memory) before it is read, so a small archive declaring a huge member is refused by name.
    """
    images: Members = {}
    cifar: Members = {}
    kept = 0
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
                where = f"{path}:{'/'.join(parts)}"
                _check_size(where, parts[-1], member.size, kept)
                data = _read_member(tar, member, where)
                if data is not None:
                    target[parts] = data
                    kept += len(data)
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
