"""Atomic file writes: a file appears whole or not at all.

Each write goes to a temporary file in the same directory, is flushed and fsynced, then renamed
over the target (``os.replace`` is atomic on POSIX), so a crash at any moment leaves either the
previous file or the new one, never a torn file.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text"]


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through ``write(file)`` so that it appears whole or not at all.

    A directory at ``path`` is refused up front, naming ``path``: the rename would fail too, but
    its error names the temporary file, which the user never asked for."""
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "cannot replace a directory with a file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise _naming(exc, path) from None
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` naming ``path``: a failed ``write()`` names no file, and a failed ``mkstemp`` or
    rename names the temporary file, which the user never asked for."""
    named = exc.filename
    if exc.errno is None:  # not an OS call's error: nothing to rename
        return exc
    if named is None or Path(str(named)).name.startswith(f".{path.name}."):
        return type(exc)(exc.errno, exc.strerror, str(path))
    return exc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    def write(handle: IO[bytes]) -> None:
        handle.write(data)

    atomic_write(path, write)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
