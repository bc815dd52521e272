"""One writer per run directory: an exclusive ``flock`` on ``RUN_DIR/.contrastlab.lock``.

Two processes writing one run directory interleave their files (one's config.yaml, the other's
checkpoint), so every command that writes into a run directory (`train`, `train --resume`, and
`eval`/`embed`/`analyze` without ``--out``) holds this lock while it runs, and a second one is
refused in one line naming the directory and the holder's process id.

The lock is the kernel's (``fcntl.flock``) on an open file, not the file's existence: it is
released whenever the holder exits, ``kill -9`` and out-of-memory kills included, so a crashed
run never leaves a stale lock behind; the file itself may stay (it only holds the last holder's
pid, for the message). On Linux, NFS emulates ``flock`` with POSIX locks, which NFSv4 servers
honour. Windows is not supported (no ``fcntl``).
"""

from __future__ import annotations

import fcntl
import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from contrastlab.core.errors import ConfigError

__all__ = ["LOCK_NAME", "RunLock", "run_lock"]

LOCK_NAME = ".contrastlab.lock"
_ATTEMPTS = 5  # a holder that cleans up may unlink the file between our open and our flock


class RunLock:
    """The exclusive lock of the run directory ``directory`` (which must exist)."""

    def __init__(self, directory: Path, command: str = "contrastlab") -> None:
        self.directory = directory
        self.path = directory / LOCK_NAME
        self.command = command  # written into the file for the next refused process's message
        self.created = False  # whether this process created the lock file
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise ConfigError naming the directory and the process holding it.

        Never waits: a second writer is refused at once rather than queued behind a run that may
        take days."""
        for _ in range(_ATTEMPTS):
            fd, created = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise ConfigError(
                    f"{self.directory} is in use by another contrastlab process ({holder}), "
                    f"which holds its lock {self.path}; wait until it ends (the lock goes with "
                    "it, even if it is killed), or use another directory"
                ) from None
            if _same_file(fd, self.path):  # not a file a previous holder unlinked meanwhile
                self._fd, self.created = fd, created
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"pid {os.getpid()}, {self.command}\n".encode(), 0)
                return
            os.close(fd)
        raise ConfigError(f"could not lock {self.path}: it kept being replaced by another process")

    def release(self) -> None:
        """Let the next writer in (closing the file releases the lock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _open(self) -> tuple[int, bool]:
        """The lock file's descriptor, and whether this call created the file."""
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), True
        except FileExistsError:
            pass
        except OSError as exc:
            raise ConfigError(
                f"cannot create the lock {self.path}: {exc.strerror or exc}"
            ) from None
        try:
            return os.open(self.path, os.O_RDWR), False
        except FileNotFoundError:  # unlinked by a holder cleaning up: make a fresh one
            return self._open()
        except OSError as exc:
            raise ConfigError(f"cannot open the lock {self.path}: {exc.strerror or exc}") from None


def run_lock(directory: Path | None, command: str) -> AbstractContextManager[object]:
    """The lock of ``directory`` held for a ``with`` block, or nothing when ``directory`` is None
    (the command writes elsewhere, e.g. to ``--out FILE``)."""
    if directory is None:
        return nullcontext()
    return RunLock(directory, command)


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _read_holder(fd: int) -> str:
    """What the holder wrote into the lock file (``pid N, COMMAND``), for the message."""
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"
