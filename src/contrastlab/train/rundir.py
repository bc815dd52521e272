"""The run directory: the unit of work that every command writes or reads.

config.yaml            the resolved recipe
metrics.csv            one row per epoch (rewritten atomically from the checkpoint's history)
metrics.json           final evaluation figures
checkpoints/last.pt    model, optimiser, schedule, RNG and loop state (written atomically)
tensorboard/           TensorBoard event files
report.md, figures/    the human-readable report
.contrastlab.lock      held (flock) by the one process writing the directory (train/lock.py)
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from contrastlab.core.errors import CheckpointError, ConfigError
from contrastlab.train.lock import LOCK_NAME, RunLock

# the files written into a run directory by `atomic_write` (via a temporary `.NAME.XXXXXXXX.tmp`
# from tempfile.mkstemp: 8 of [a-z0-9_]), at its top and in checkpoints/
WRITTEN = (
    *("config.yaml", "metrics.csv", "metrics.json", "report.md"),
    *("bad_images.txt", "retrieval_per_query.csv"),
)
CHECKPOINTS_WRITTEN = ("last.pt",)
# a run name becomes a directory under runs/: one plain path component (no /, no .., not hidden)
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")


class RunDir:
    def __init__(self, path: Path):
        self.path = path

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_csv(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def metrics_json(self) -> Path:
        return self.path / "metrics.json"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoints" / "last.pt"

    @property
    def report(self) -> Path:
        return self.path / "report.md"

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @classmethod
    def new(cls, out: Path | None, name: str) -> RunDir:
        """A run directory to create: ``out``, or ``runs/NAME-YYYYmmdd-HHMMSS`` when none is given.

        Refuses a directory that already holds a run; nothing is created until `claim`.
        """
        if out is None:
            check_run_name(name)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            out = Path("runs") / f"{name}-{stamp}"
            suffix = 1
            while out.exists():
                suffix += 1
                out = Path("runs") / f"{name}-{stamp}-{suffix}"
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {out} is a file, not a directory")
        run = cls(out)
        run._refuse_a_run(out)
        return run

    def make(self) -> RunDir:
        try:
            self.checkpoints.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create run directory {self.path}: {exc.strerror or exc}"
            ) from None
        return self

    def remove_temporaries(self) -> list[Path]:
        """Delete the partial files an atomic write left when its process was killed
        (``.NAME.XXXXXXXX.tmp``, never renamed into place); return what was removed.

        Only the temporaries of the files a run writes match: a user's own ``.notes.tmp`` (or
        any other hidden file) is not ours to delete."""
        stale = _temporaries(self.path, WRITTEN) + _temporaries(
            self.checkpoints, CHECKPOINTS_WRITTEN
        )
        for path in stale:
            path.unlink(missing_ok=True)
        return stale

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @contextmanager
    def claim(self, command: str, *, fresh: bool) -> Iterator[RunDir]:
        """Hold this run directory's lock (`RunLock`) for the ``with`` block, creating the
        directory and its ``checkpoints/`` first when they are missing.

        ``fresh``: the directory must not hold a run; checked again under the lock, since another
        writer may have made one since `new` looked. When the block raises before the run wrote
        anything, what this process created (folders, lock file) is removed again, so a failed
        command leaves no empty run directory; nothing else is ever removed."""
        made = _make_dirs(self.path)
        before = set(os.listdir(self.path))
        lock = RunLock(self.path, command)
        lock.acquire()  # refused: nothing here is ours to clean (the holder may be writing)
        try:
            if fresh:
                self._refuse_a_run(self.path)
            made += _make_dirs(self.checkpoints)
            yield self
        except BaseException:
            self._remove_unused(made, before, lock)
            raise
        finally:
            lock.release()

    def _refuse_a_run(self, out: Path) -> None:
        if self.checkpoint.exists() or self.config.exists():
            raise ConfigError(
                f"{out} already holds a run; continue it with --resume {out} or pick another --out"
            )

    def _remove_unused(self, made: list[Path], before: set[str], lock: RunLock) -> None:
        """Remove the folders in ``made`` and the lock file if this process created them and the
        run directory holds nothing else new (``before``: its entries before we added ours)."""
        ours = {LOCK_NAME} if lock.created else set()
        if self.checkpoints in made:
            ours.add(self.checkpoints.name)
        try:
            added = set(os.listdir(self.path)) - before - ours
            if added or (self.checkpoints in made and any(self.checkpoints.iterdir())):
                return  # the run wrote something: it stays, to be resumed or inspected
            if lock.created:
                lock.path.unlink(missing_ok=True)
            for folder in reversed(made):
                folder.rmdir()  # fails (and stops) if anything else appeared meanwhile
        except OSError:
            pass  # cleaning up must never hide the error that stopped the command

    @classmethod
    def open(cls, path: Path) -> RunDir:
        """An existing run directory (one with a ``config.yaml``)."""
        run = cls(path)
        if not path.is_dir():
            raise CheckpointError(f"no run directory at {path}")
        if not run.config.is_file():
            raise CheckpointError(f"{path} is not a run directory (no config.yaml)")
        return run


def check_run_name(name: str) -> None:
    """A recipe's ``name`` names its default run directory ``runs/NAME-STAMP``: it must stay one
    plain folder under runs/ (``../x`` or ``/tmp/x`` would put the run elsewhere)."""
    if not RUN_NAME.fullmatch(name):
        raise ConfigError(
            f"the recipe name {name!r} cannot name a run directory under runs/: use 1-200 "
            "letters, digits, '.', '_', '+' or '-', starting with a letter or digit "
            "(set --set name=NAME), or give --out DIR"
        )


def _temporaries(folder: Path, names: tuple[str, ...]) -> list[Path]:
    """``atomic_write``'s temporaries of ``names`` in ``folder`` (``.NAME.XXXXXXXX.tmp``)."""
    pattern = re.compile(rf"\.(?:{'|'.join(map(re.escape, names))})\.[a-z0-9_]{{8}}\.tmp")
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name) and p.is_file())


def _make_dirs(path: Path) -> list[Path]:
    """Create ``path`` and its missing parents; the folders this call created, outermost first
    (one another process created at the same moment is not counted as ours)."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    made = []
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise ConfigError(
                f"cannot create run directory {path}: {exc.strerror or exc}"
            ) from None
        made.append(folder)
    if not path.is_dir():
        raise ConfigError(f"{path} is not a directory")
    return made
