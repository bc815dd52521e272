"""The rotation probe: all four turns of each image, and known answers at both ends: features that
are the pixels themselves read the turn, rotation-invariant features sit at chance."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from contrastlab.evaluate.rotation import rotation_probe, rotations


def oriented_images(n: int = 64) -> Tensor:
    """A bright bar along the top edge plus noise: the turn is plain to see."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 60, (n, 1, 8, 8), generator=g, dtype=torch.uint8)
    images[:, :, 0, :] = 255
    return images


def test_rotations_are_image_major_quarter_turns() -> None:
    images = torch.arange(2 * 9, dtype=torch.uint8).view(2, 1, 3, 3)
    turned, labels = rotations(images)
    assert turned.shape == (8, 1, 3, 3) and labels.tolist() == [0, 1, 2, 3] * 2
    assert torch.equal(turned[5], torch.rot90(images[1], 1, dims=(-2, -1)))
    assert torch.equal(turned[0], images[0])


class Pixels(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1)


class RingMeans(nn.Module):
    """Mean of each square ring around the centre: unchanged by any quarter turn."""

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-1]
        idx = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
        ring = torch.maximum(idx.abs()[:, None], idx.abs()[None, :])
        levels = ring.unique()
        return torch.stack([x[..., ring == r].mean(-1).mean(1) for r in levels], dim=1)


def test_pixels_read_the_turn_and_invariant_features_do_not() -> None:
    images = oriented_images()
    assert rotation_probe(Pixels(), images) == 1.0
    invariant = rotation_probe(RingMeans(), images)
    assert abs(invariant - 0.25) < 0.02  # the four turns of an image have the same features
