"""The run directory: the unit of work that every command writes or reads.

config.yaml            the resolved recipe
metrics.csv            one row per epoch (rewritten atomically from the checkpoint's history)
metrics.json           final evaluation figures
checkpoints/last.pt    model, optimiser, schedule, RNG and loop state (written atomically)
tensorboard/           TensorBoard event files
report.md, figures/    the human-readable report
"""

from __future__ import annotations

import time
from pathlib import Path

from contrastlab.errors import CheckpointError, ConfigError


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

        Refuses a directory that already holds a run; nothing is created until `make`.
        """
        if out is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            out = Path("runs") / f"{name}-{stamp}"
            suffix = 1
            while out.exists():
                suffix += 1
                out = Path("runs") / f"{name}-{stamp}-{suffix}"
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {out} is a file, not a directory")
        run = cls(out)
        if run.checkpoint.exists() or run.config.exists():
            raise ConfigError(
                f"{out} already holds a run; continue it with --resume {out} or pick another --out"
            )
        return run

    def make(self) -> RunDir:
        try:
            (self.path / "checkpoints").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create run directory {self.path}: {exc.strerror or exc}"
            ) from None
        return self

    def remove_temporaries(self) -> list[Path]:
        """Delete the partial files an atomic write left when its process was killed
        (``.NAME.XXXX.tmp``, never renamed into place); return what was removed."""
        stale = [*self.path.glob(".*.tmp"), *(self.path / "checkpoints").glob(".*.tmp")]
        for path in stale:
            path.unlink(missing_ok=True)
        return stale

    @classmethod
    def open(cls, path: Path) -> RunDir:
        """An existing run directory (one with a ``config.yaml``)."""
        run = cls(path)
        if not path.is_dir():
            raise CheckpointError(f"no run directory at {path}")
        if not run.config.is_file():
            raise CheckpointError(f"{path} is not a run directory (no config.yaml)")
        return run
