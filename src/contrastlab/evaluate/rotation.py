"""A 4-way rotation probe: how much of an image's orientation a frozen representation keeps.

Gidaris et al.'s rotation-prediction task (ICLR 2018) used as a probe, as LOOC (Xiao et al.,
ICLR 2021) does to show which embedding space varies with rotation: every held-out image is
turned by 0, 90, 180 and 270 degrees, the images are split in two halves (all four turns of an
image on the same side, so no image is seen in training and test), and a linear probe predicts
the turn from frozen features. Chance is 0.25.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_images
from contrastlab.evaluate.features import extract_features
from contrastlab.evaluate.linear import linear_probe

__all__ = ["rotation_probe", "rotations"]


def rotations(images: Tensor) -> tuple[Tensor, Tensor]:
    """All four quarter turns of square ``images`` (N, C, S, S): (4N images, 4N labels 0..3),
    image-major (rows 4i..4i+3 are image i turned by 0..3 quarters, ``torch.rot90`` on H, W)."""
    if images.shape[-1] != images.shape[-2]:
        raise ContrastlabError(f"rotations need square images, got {tuple(images.shape[-2:])}")
    turned = torch.stack([torch.rot90(images, k, dims=(-2, -1)) for k in range(4)], dim=1)
    labels = torch.arange(4).repeat(len(images))
    return turned.flatten(0, 1), labels


def rotation_probe(
    features: nn.Module,
    images: Tensor,
    *,
    device: torch.device | str = "cpu",
    batch_size: int = 512,
    seed: int = 0,
    channels_last: bool = False,
) -> float:
    """Top-1 of a linear probe predicting the quarter turn of held-out images from ``features``.

    ``images``: uint8 (N, C, S, S), N >= 4; half of them (a seeded permutation) train the probe,
    the other half test it.
    """
    check_images(images, what="rotation probe images")
    if len(images) < 4:
        raise ContrastlabError(f"the rotation probe needs at least 4 images, got {len(images)}")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    half = len(images) // 2
    parts = []
    for rows in (order[:half], order[half:]):
        turned, labels = rotations(images[rows])
        feats = extract_features(
            features, turned, batch_size=batch_size, device=device, channels_last=channels_last
        )
        parts.append((feats, labels))
    (train, y_train), (test, y_test) = parts
    return linear_probe(train, y_train, test, y_test, seed=seed).top1
