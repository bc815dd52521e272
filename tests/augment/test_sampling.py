"""SimCLRViews.sample: reproducibility from the trainer's generator, and the recipe's statistics."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from contrastlab.augment import SimCLRAugment, SimCLRViews, ViewParams
from contrastlab.augment.geometry import sample_crop_boxes


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _equal(a: ViewParams, b: ViewParams) -> bool:
    return all(torch.equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))


@pytest.fixture
def views() -> SimCLRViews:
    return SimCLRViews(SimCLRAugment(blur_p=0.5), image_size=32)


def test_same_seed_same_params_different_seed_different(views: SimCLRViews) -> None:
    a = views.sample(64, _gen(0), (32, 32))
    b = views.sample(64, _gen(0), (32, 32))
    c = views.sample(64, _gen(1), (32, 32))
    assert _equal(a, b)
    for f in ("crop", "factors", "sigma"):
        assert not torch.equal(getattr(a, f), getattr(c, f)), f


def test_generator_state_advances(views: SimCLRViews) -> None:
    gen = _gen(0)
    first = views.sample(64, gen, (32, 32))
    second = views.sample(64, gen, (32, 32))
    assert not torch.equal(first.crop, second.crop)
    assert not torch.equal(first.factors, second.factors)


def test_draw_count_does_not_depend_on_settings() -> None:
    """The generator ends in the same state whatever the probabilities (exact resume)."""
    states = []
    for cfg in (SimCLRAugment(), SimCLRAugment(jitter_p=0.0, gray_p=1.0, blur_p=0.0)):
        gen = _gen(3)
        SimCLRViews(cfg, 32).sample(17, gen, (40, 30))
        states.append(gen.get_state())
    assert torch.equal(states[0], states[1])


def test_global_rng_untouched(views: SimCLRViews) -> None:
    torch.manual_seed(123)
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    before = torch.random.get_rng_state()
    params = views.sample(8, _gen(0), (32, 32))
    views.apply(images, params)
    views(images, _gen(1))
    assert torch.equal(torch.random.get_rng_state(), before)


def test_params_follow_the_recipe() -> None:
    cfg = SimCLRAugment(blur_p=0.5)
    n = 20_000
    p = SimCLRViews(cfg, 32).sample(n, _gen(0), (1000, 1000))
    assert len(p) == n
    # Bernoulli rates: 5 standard deviations of a rate over 20,000 draws is at most 0.018.
    for rate, want in ((p.flip, 0.5), (p.jitter, 0.8), (p.gray, 0.2), (p.blur, 0.5)):
        assert abs(rate.float().mean().item() - want) < 0.018
    # Each order row is a permutation of 0..3, and every op lands at every stage.
    assert torch.equal(p.order.sort(dim=1).values, torch.arange(4).expand(n, 4))
    for stage in range(4):
        counts = torch.bincount(p.order[:, stage], minlength=4).float() / n
        assert torch.allclose(counts, torch.full((4,), 0.25), atol=0.02)
    # Factors within range, and spread over it.
    for column, (low, high) in enumerate(cfg.jitter_ranges()):
        f = p.factors[:, column]
        assert low - 1e-6 <= f.min().item() and f.max().item() <= high + 1e-6
        assert abs(f.mean().item() - (low + high) / 2) < 0.01
    assert cfg.jitter_ranges()[0] == pytest.approx((0.6, 1.4))
    assert cfg.jitter_ranges()[3] == pytest.approx((-0.1, 0.1))
    assert p.sigma.min().item() >= 0.1 and p.sigma.max().item() <= 2.0
    # Crops: inside the image; area and ratio in range up to whole-pixel rounding on a 1000 px side.
    top, left, height, width = p.crop.unbind(1)
    assert (top >= 0).all() and (left >= 0).all()
    assert (top + height <= 1 + 1e-6).all() and (left + width <= 1 + 1e-6).all()
    area, ratio = height * width, width / height
    assert area.min().item() >= 0.08 * 0.995 and area.max().item() <= 1.0
    assert ratio.min().item() >= 0.75 * 0.998 and ratio.max().item() <= 4 / 3 * 1.002
    # log-uniform ratio: log ratio has mean ~0 (log(3/4) = -log(4/3)).
    assert abs(ratio.log().mean().item()) < 0.01
    # Area ~ U(0.08, 1) kept when the box fits: a box of area a fits for |log ratio| <= -log a, so
    # the kept density is proportional to min(1, -log a / log(4/3)), whose mean is 0.4778 (not the
    # 0.54 of U(0.08, 1)); 5 standard deviations of the sample mean are 0.009.
    assert abs(area.mean().item() - 0.4778) < 0.009


def test_crop_boxes_are_whole_pixels() -> None:
    crop = sample_crop_boxes(500, _gen(0), (37, 53), (0.08, 1.0), (0.75, 4 / 3))
    pixels = crop.double() * torch.tensor([37, 53, 37, 53], dtype=torch.float64)
    assert torch.allclose(pixels, pixels.round(), atol=1e-4)
    assert (pixels[:, 2:] >= 1).all()


def test_crop_fallback_is_torchvision_centre_crop() -> None:
    """No whole-area box of ratio in [2, 3] fits: a centre crop with the ratio clamped."""
    crop = sample_crop_boxes(4, _gen(0), (40, 60), (1.0, 1.0), (2.0, 3.0))
    # input ratio 1.5 < 2: width = 60, height = round(60 / 2) = 30, top = (40 - 30) // 2 = 5
    want = torch.tensor([5 / 40, 0.0, 30 / 40, 1.0])
    assert torch.allclose(crop, want.expand(4, 4))
    crop = sample_crop_boxes(2, _gen(0), (40, 60), (1.0, 1.0), (0.5, 1.0))
    # input ratio 1.5 > 1: height = 40, width = round(40 * 1) = 40, left = (60 - 40) // 2 = 10
    assert torch.allclose(crop, torch.tensor([0.0, 10 / 60, 1.0, 40 / 60]).expand(2, 4))


def test_probabilities_zero_and_one() -> None:
    cfg = SimCLRAugment(flip_p=1.0, jitter_p=0.0, gray_p=1.0, blur_p=0.0)
    p = SimCLRViews(cfg, 32).sample(1000, _gen(0), (32, 32))
    assert p.flip.all() and not p.jitter.any() and p.gray.all() and not p.blur.any()


def test_zero_strength_gives_neutral_factors() -> None:
    p = SimCLRViews(SimCLRAugment(jitter_strength=0.0), 32).sample(50, _gen(0), (32, 32))
    assert torch.equal(p.factors, torch.tensor([1.0, 1.0, 1.0, 0.0]).expand(50, 4))


def test_view_params_select_and_cat(views: SimCLRViews) -> None:
    p = views.sample(10, _gen(0), (32, 32))
    head, tail = p.select(torch.arange(4)), p.select(torch.arange(10) >= 4)
    assert len(head) == 4 and len(tail) == 6
    assert _equal(ViewParams.cat([head, tail]), p)
    swapped = dataclasses.replace(p, crop=p.crop.flip(0))  # e.g. LOOC: share all but the crop
    assert torch.equal(swapped.crop[0], p.crop[-1])
    assert set(p.to_dict()) == {f.name for f in dataclasses.fields(p)}


def test_view_params_checks_shapes() -> None:
    p = ViewParams.identity(3)
    with pytest.raises(ValueError, match=r"ViewParams\.flip must have shape"):
        dataclasses.replace(p, flip=torch.zeros(2, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"ViewParams\.order must be torch\.int64"):
        dataclasses.replace(p, order=p.order.int())


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("jitter_p", 1.5, "in [0, 1], got 1.5"),
        ("flip_p", -0.1, "in [0, 1]"),
        ("gray_p", math.nan, "in [0, 1]"),
        ("blur_p", True, "in [0, 1]"),
        ("jitter_strength", -1.0, "in [0, 2.5]"),
        ("crop_scale", (0.0, 1.0), "0 < low <= high <= 1"),
        ("crop_scale", (0.5, 0.2), "0 < low <= high <= 1"),
        ("crop_scale", (0.2, 1.5), "0 < low <= high <= 1"),
        ("crop_ratio", (1.0,), "two numbers"),
        ("crop_ratio", (2.0, 1.0), "0 < low <= high"),
        ("blur_sigma", (0.0, 2.0), "0 < low <= high"),
    ],
)
def test_validate_names_the_field(field: str, value: object, rule: str) -> None:
    from contrastlab.core.errors import ConfigError

    cfg = dataclasses.replace(SimCLRAugment(), **{field: value})
    with pytest.raises(ConfigError, match=rf"^augment\.{field} must be") as info:
        cfg.validate()
    assert rule in str(info.value)
    with pytest.raises(ConfigError):
        SimCLRViews(cfg, 32)


def test_defaults_validate() -> None:
    SimCLRAugment().validate()
    SimCLRAugment(jitter_strength=1.0, blur_p=0.5).validate()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_views_are_float32_and_unchanged_inside_autocast(dtype: torch.dtype) -> None:
    """A training step's autocast (train.precision fp16/bf16) does not reach the views: the blur's
    convolutions ran in half precision there, and index_copy_ refused the result."""
    views = SimCLRViews(SimCLRAugment(blur_p=1.0), image_size=16)
    images = torch.randint(0, 256, (6, 3, 20, 20), dtype=torch.uint8, generator=_gen(1))
    params = views.sample(6, _gen(2), (20, 20))
    plain = views.apply(images, params)
    with torch.autocast("cpu", dtype=dtype):
        mixed = views.apply(images, params)
    assert mixed.dtype == torch.float32 and torch.equal(mixed, plain)
