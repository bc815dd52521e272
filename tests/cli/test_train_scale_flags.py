"""`--sync-bn` and `--lr-scaling` in one process: recorded in the run's config, and the trained
encoder loads into a plain one (the sync batch norm keeps batch norm's state dict)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from contrastlab.cli import main
from contrastlab.config import load_recipe
from contrastlab.methods import build_method
from contrastlab.train.checkpoint import load_checkpoint


def test_flags_reach_the_recipe_and_the_checkpoint_stays_plain(
    tmp_path: Path, tiny_args: list[str]
) -> None:
    out = tmp_path / "run"
    args = ["train", "--out", str(out), "--epochs", "1", "--sync-bn", "--lr-scaling", "sqrt"]
    assert main([*args, *tiny_args]) == 0
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["train"]["sync_bn"] is True and config["optim"]["lr_scaling"] == "sqrt"
    state = load_checkpoint(out / "checkpoints" / "last.pt")["model"]
    overrides = [("data.image_size", 16), ("model.width", 0.0625), ("model.head_out_dim", 16)]
    plain = build_method(load_recipe(config["name"], overrides))
    plain.load_state_dict(state)  # strict: the same keys as plain batch norm
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())


def test_sync_bn_with_split_batch_norm_is_refused(
    tmp_path: Path, tiny_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "moco", "--out", str(tmp_path / "m"), "--epochs", "1", "--sync-bn"]
    assert main([*args, *tiny_args]) == 2
    err = capsys.readouterr().err
    assert "method.moco.bn_splits=1" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("world", "extra", "message"),
    [
        ("3", [], "train.batch_size 32 is the global batch, split over 3 processes"),
        ("2", ["--set", "method.moco.bn_splits=32"], "bn_splits 32 must divide each process's"),
    ],
)
def test_a_batch_that_does_not_split_stops_before_joining(
    tmp_path: Path,
    tiny_args: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    world: str,
    extra: list[str],
    message: str,
) -> None:
    """A torchrun worker (WORLD_SIZE set) whose batch cannot be split exits 2 before it waits
    for the other processes (which would hang here: there are none)."""
    monkeypatch.setenv("WORLD_SIZE", world)
    monkeypatch.setenv("RANK", "0")
    args = ["train", "moco", "--out", str(tmp_path / "m"), "--epochs", "1", *tiny_args, *extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not torch.distributed.is_initialized()
