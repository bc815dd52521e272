"""Progressive resolution (``train.view_sizes``): the stages, their checks, and the views the
encoder sees step by step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from contrastlab.config import DEFAULT_RECIPE, load_recipe
from contrastlab.core.errors import ConfigError
from contrastlab.data import ImageTensors
from contrastlab.methods import build_method
from contrastlab.train.rundir import RunDir
from contrastlab.train.trainer import Trainer

TINY = [
    ("data.image_size", 16),
    ("model.width", 0.0625),
    ("model.head_out_dim", 8),
    ("train.batch_size", 8),
    ("train.progress", False),
]


def test_view_size_at() -> None:
    train = load_recipe(DEFAULT_RECIPE, [("train.view_sizes", [[0.0, 16], [0.5, 24], [0.75, 32]])])
    sizes = [train.train.view_size_at(step, 100, 32) for step in (0, 49, 50, 74, 75, 99)]
    assert sizes == [16, 16, 24, 24, 32, 32]
    assert load_recipe(DEFAULT_RECIPE).train.view_size_at(7, 100, 32) == 32  # none: image_size


@pytest.mark.parametrize(
    "stages",
    [[[0.1, 16]], [[0.0, 16], [0.5, 24], [0.4, 32]], [[0.0, 16], [1.0, 32]], [[0.0, 4]]],
)
def test_bad_stages_are_refused(stages: list[list[float]]) -> None:
    with pytest.raises(ConfigError, match=r"train\.view_sizes"):
        load_recipe(DEFAULT_RECIPE, [("train.view_sizes", stages)])


def test_the_encoder_sees_each_stage_in_turn(tmp_path: Path) -> None:
    recipe = load_recipe(
        DEFAULT_RECIPE, [*TINY, ("train.epochs", 2), ("train.view_sizes", [[0.0, 8], [0.5, 16]])]
    )
    pixels = torch.randint(0, 256, (32, 3, 16, 16), generator=torch.Generator().manual_seed(0))
    data = ImageTensors(pixels.to(torch.uint8), torch.arange(32) % 2, {}, ["a", "b"], "x")
    method = build_method(recipe)
    seen: list[int] = []
    method.encoder.register_forward_pre_hook(lambda _, args: seen.append(args[0].shape[-1]))
    trainer = Trainer(recipe, method, data, RunDir(tmp_path / "run").make(), torch.device("cpu"))
    trainer.fit()
    # 2 epochs of 4 steps, one forward of both views per step: 8 px for steps 0-3, then 16 px
    assert seen == [8] * 4 + [16] * 4
