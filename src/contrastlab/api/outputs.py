"""Where a command's ``--out`` may write: never over a file the command did not write itself.

`eval --out`, `embed --out` and `analyze --out` replace their output atomically, which would
silently swap a run's only checkpoint (``--out RUN/checkpoints/last.pt``), a training
``metrics.json`` or any user file for the command's own output. So each output is checked before
any work: it may not lie in a run's ``checkpoints/`` folder, and an existing file there must be
one that the same command wrote (recognised by its content), else the command exits 2 naming it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from contrastlab.core.errors import ConfigError

__all__ = ["check_out_dir", "check_out_file", "is_analysis_json", "is_eval_json", "is_map_png"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_out_file(path: Path, flag: str, ours: Callable[[Path], bool], what: str) -> None:
    """Refuse ``path`` (named ``flag`` in the message, e.g. ``--out FILE``) when it is in a run's
    ``checkpoints/``, is a directory, or is an existing file that ``ours`` does not recognise as
    ``what`` (the output of this command)."""
    _not_in_checkpoints(path, flag)
    if path.is_dir():
        raise ConfigError(f"{flag} is a directory; give a file path")
    if path.exists() and not ours(path):
        raise ConfigError(
            f"{flag} exists and is not {what}, so it is not replaced; "
            "give a new path, or move the file aside"
        )


def check_out_dir(path: Path, flag: str) -> None:
    """Refuse ``path`` (an output folder) when it is a file or a run's checkpoints."""
    _not_in_checkpoints(path, flag, itself=True)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} is a file; give a directory")


def _not_in_checkpoints(path: Path, flag: str, itself: bool = False) -> None:
    """A run's ``checkpoints/`` (beside its config.yaml, or holding last.pt) is the trainer's."""
    folders = [path.absolute()] if itself else []
    for folder in [*folders, *path.absolute().parents]:
        if folder.name == "checkpoints" and (
            (folder.parent / "config.yaml").is_file() or (folder / "last.pt").is_file()
        ):
            raise ConfigError(
                f"{flag} is inside the run's checkpoint folder {folder}, which only "
                "`contrastlab train` writes; give a path outside it"
            )


def _json_object(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def is_eval_json(path: Path) -> bool:
    """The figures of `contrastlab eval --out` (a run's training metrics.json has no
    ``checkpoint``: replacing it would lose the training figures)."""
    data = _json_object(path)
    return data is not None and {"checkpoint", "epochs", "protocols"} <= set(data)


def is_analysis_json(path: Path) -> bool:
    """``KIND.json`` of `contrastlab analyze`: every analysis records its ``checkpoint``."""
    data = _json_object(path)
    return data is not None and "checkpoint" in data


def is_map_png(path: Path) -> bool:
    """A PNG drawn by matplotlib (the maps of `contrastlab embed` are): its header chunks name
    the software, which a photo or another program's image does not."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    return head.startswith(PNG_MAGIC) and b"Matplotlib" in head
