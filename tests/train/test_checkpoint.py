"""Atomic checkpoint writes and safe loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from contrastlab.core.errors import CheckpointError
from contrastlab.train.checkpoint import load_checkpoint, save_checkpoint


def test_round_trip(tmp_path: Path) -> None:
    state = {"model": {"w": torch.arange(4.0)}, "epoch": 3, "history": [{"loss": 1.5}]}
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], torch.arange(4.0)) and loaded["epoch"] == 3
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary file left


def test_failed_write_keeps_the_old_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.zeros(2)}, "epoch": 1})

    class Unsaveable:
        def __reduce__(self) -> tuple[object, ...]:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"model": {}, "bad": Unsaveable()})
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_refuses_pickled_objects_and_garbage(tmp_path: Path) -> None:
    evil = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": Path("x")}, evil)  # an arbitrary class: not weights-only
    with pytest.raises(CheckpointError, match=r"pickled Python object \(pathlib\.PosixPath\)"):
        load_checkpoint(evil)
    torn = tmp_path / "torn.pt"
    torn.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"torn\.pt"):
        load_checkpoint(torn)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(1)}, other)
    with pytest.raises(CheckpointError, match="not a contrastlab checkpoint"):
        load_checkpoint(other)


def test_written_files_get_the_permissions_open_would_give(tmp_path: Path) -> None:
    """mkstemp's temporary file is 0600; the renamed result follows the umask like open()."""
    import os
    import stat

    from contrastlab.core.atomic import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "metrics.json", "{}")
        (tmp_path / "plain.json").write_text("{}")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "metrics.json").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.json").stat().st_mode) == 0o644
