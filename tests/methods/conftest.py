"""Tiny recipes and batches for method tests."""

from __future__ import annotations

from typing import Any

import torch

from contrastlab.config import apply_overrides, build_recipe, find_recipe, read_yaml
from contrastlab.config.schema import Recipe

TINY = {
    "data.image_size": 16,
    "model.width": 0.0625,
    "model.head_out_dim": 8,
    "train.batch_size": 8,
    "train.progress": False,
}


def tiny_recipe(name: str, **overrides: Any) -> Recipe:
    """A bundled recipe shrunk to a 4-channel-stem ResNet on 16x16 inputs, with ``overrides``."""
    pairs = {**TINY, **{key.replace("__", "."): value for key, value in overrides.items()}}
    return build_recipe(apply_overrides(read_yaml(find_recipe(name)), pairs.items()))


def image_batch(n: int = 8, channels: int = 3, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, channels, 16, 16), generator=g, dtype=torch.uint8)
    return {"image": images, "label": torch.arange(n) % 3}
