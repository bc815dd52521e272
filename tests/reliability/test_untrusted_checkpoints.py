"""Checkpoints are read with ``weights_only=True``: one that carries a pickled object is refused
without running it, and one made by another method or network is refused naming what differs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch


class RunsCode:
    """Unpickling this runs a shell command (what a malicious checkpoint would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, harness: Any) -> Path:
    """A finished run of the small MoCo recipe, 1 epoch."""
    out = tmp_path_factory.mktemp("finished") / "run"
    harness.ok(harness.cli(*harness.train, "--epochs", "1", "--out", str(out)))
    return out


def test_pickled_code_is_refused_and_never_runs(
    harness: Any, finished: Path, tmp_path: Path
) -> None:
    run = Path(shutil.copytree(finished, tmp_path / "run"))
    marker = tmp_path / "pwned"
    good = harness.checkpoint(run)
    torch.save({**good, "extra": RunsCode(marker)}, run / "checkpoints" / "last.pt")
    for command in (["eval", str(run)], ["train", "--resume", str(run)]):
        message = harness.error(harness.cli(*command))
        assert "refused to load" in message and "pickled Python object (posix.system)" in message
        assert "weights_only=True" in message
    assert not marker.exists()


@pytest.mark.parametrize(
    ("args", "differs"),
    [
        (["train", "simclr"], "method.name: 'moco' in the checkpoint, 'simclr' in this run"),
        pytest.param(
            ["train", "moco", "--set", "model.width=0.125"],
            "model.width: 0.0625 in the checkpoint, 0.125 in this run",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            ["train", "moco", "--set", "model.backbone=resnet34"],
            "model.backbone: 'resnet18' in the checkpoint, 'resnet34' in this run",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_checkpoint_of_another_network_is_refused_naming_the_difference(
    harness: Any, finished: Path, tmp_path: Path, args: list[str], differs: str
) -> None:
    """Another run's directory (made with --stop-after 0) given this run's checkpoint."""
    other = tmp_path / "other"
    tiny = harness.train[2:]  # the small recipe's flags, without `train moco`
    command = [*args[:2], *tiny, *args[2:], "--stop-after", "0", "--out", str(other)]
    harness.ok(harness.cli(*command))
    shutil.copy(finished / "checkpoints" / "last.pt", other / "checkpoints" / "last.pt")
    message = harness.error(harness.cli("train", "--resume", str(other)))
    assert "was made by another network than this run's recipe" in message
    assert differs in message
