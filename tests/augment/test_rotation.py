"""Quarter turns in the view maker: drawn last and only when asked for, applied as torch.rot90."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from contrastlab.augment import SimCLRAugment, SimCLRViews
from contrastlab.augment.geometry import rotate_quarters
from contrastlab.core.errors import ConfigError


def test_rotation_is_drawn_after_everything_else() -> None:
    """The other fields are those of the same seed without rotation (old recipes' streams)."""
    plain = SimCLRViews(SimCLRAugment(), 16).sample(500, torch.Generator().manual_seed(0), (16, 16))
    turned = SimCLRViews(SimCLRAugment(rotation_p=0.75), 16).sample(
        500, torch.Generator().manual_seed(0), (16, 16)
    )
    for field in dataclasses.fields(plain):
        if field.name != "rotation":
            assert torch.equal(getattr(plain, field.name), getattr(turned, field.name))
    assert int(plain.rotation.abs().sum()) == 0
    counts = torch.bincount(turned.rotation, minlength=4).float() / 500
    assert torch.all((counts - 0.25).abs() < 0.06)  # 0.75 makes the four turns equally likely


def test_apply_turns_the_view_by_rot90() -> None:
    maker = SimCLRViews(SimCLRAugment(rotation_p=1.0), 8)
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    params = maker.sample(6, torch.Generator().manual_seed(1), (8, 8))
    unturned = dataclasses.replace(params, rotation=torch.zeros(6, dtype=torch.int64))
    got, flat = maker.apply(images, params), maker.apply(images, unturned)
    assert bool((params.rotation > 0).all())
    for i, k in enumerate(params.rotation.tolist()):
        # Equal up to rounding: contrast's image mean sums the pixels in another order.
        torch.testing.assert_close(got[i], torch.rot90(flat[i], k, dims=(-2, -1)))


def test_rotate_quarters_leaves_zero_rows_and_rejects_rectangles() -> None:
    x = torch.rand(3, 1, 4, 4)
    out = rotate_quarters(x, torch.tensor([0, 2, 0]))
    assert torch.equal(out[0], x[0]) and torch.equal(out[1], x[1].flip(-1).flip(-2))
    with pytest.raises(ValueError, match="square"):
        rotate_quarters(torch.rand(1, 1, 4, 5), torch.tensor([1]))


def test_rotation_probability_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"augment\.rotation_p"):
        SimCLRAugment(rotation_p=1.5).validate()
