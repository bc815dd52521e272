"""lightly's SimCLR example loop as a peer in `time_to_accuracy.py`: train it for a number of
seconds on decoded images, and its backbone's features, normalised as lightly's transform does."""

from __future__ import annotations

import time

import torch
from PIL import Image
from torch import nn

from contrastlab.config.schema import IMAGENET_MEAN, IMAGENET_STD
from train_step import Lightly, Setup


def train_lightly(
    pil: list[Image.Image], seconds: float, batch: int, workers: int
) -> tuple[nn.Module, int]:
    """lightly's loop until ``seconds`` of training have passed; the backbone and steps taken."""
    loop = Lightly(pil, batch, workers, Setup())
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        loop.step()
        steps += 1
    return loop.backbone, steps


@torch.no_grad()
def lightly_features(backbone: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Backbone features of uint8 images, normalised as lightly's transform does."""
    backbone.eval()
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    chunks = [
        backbone((images[i : i + 512].float() / 255 - mean) / std)
        for i in range(0, len(images), 512)
    ]
    return torch.cat(chunks).flatten(1)
