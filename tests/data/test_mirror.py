"""`contrastlab.data.mirror.mirror_ratio`: hand-built data whose answer is known."""

from __future__ import annotations

import torch

from contrastlab.data.mirror import mirror_ratio


def half_lit(levels: list[int], side: int = 8) -> torch.Tensor:
    """Images whose left half is grey level v and right half black: mirrored, the light moves
    to the right half, where no image of the data has it."""
    images = torch.zeros(len(levels), 1, side, side, dtype=torch.uint8)
    for index, level in enumerate(levels):
        images[index, :, :, : side // 2] = level
    return images


def test_symmetric_images_give_exactly_one() -> None:
    generator = torch.Generator().manual_seed(0)
    left = torch.randint(0, 256, (50, 3, 8, 4), generator=generator, dtype=torch.uint8)
    symmetric = torch.cat([left, left.flip(-1)], dim=-1)  # each image is its own mirror
    assert mirror_ratio(symmetric) == 1.0


def test_mirrors_outside_the_data_give_a_large_ratio() -> None:
    levels = list(range(100, 200, 2))  # 50 images, neighbours 2 grey levels apart
    # own nearest neighbour: 2/255 over 32 pixels; mirrored: about 150/255 over 64 pixels
    assert mirror_ratio(half_lit(levels)) > 10


def test_data_closed_under_mirroring_keeps_the_ratio_at_or_below_one() -> None:
    images = half_lit(list(range(100, 200, 2)))
    closed = torch.cat([images, images.flip(-1)])  # every mirror is itself in the data
    assert mirror_ratio(closed) <= 1.0


def test_large_images_are_shrunk_and_few_images_measure_nothing() -> None:
    big = half_lit(list(range(100, 200, 10)), side=96)  # area-averaged to 32 px
    assert mirror_ratio(big) > 10
    assert mirror_ratio(half_lit([100, 200])) == 1.0


def test_duplicates_only() -> None:
    same = torch.full((5, 1, 4, 4), 7, dtype=torch.uint8)
    assert mirror_ratio(same) == 1.0
    lit = half_lit([100] * 5)
    assert mirror_ratio(lit) == float("inf")  # own distance 0, the mirror is elsewhere
