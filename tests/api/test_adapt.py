"""Fitting a bundled recipe to a user's images (`contrastlab.api.adapt`): hand-worked cases."""

from __future__ import annotations

import math

import pytest
import torch

from contrastlab.api.adapt import (
    COLOUR_AUGMENT,
    GREY_AUGMENT,
    MIN_STEPS,
    data_stem,
    fit_to_data,
    is_greyscale,
    named_for_data,
    progressive_sizes,
    small_data_batch,
)
from contrastlab.config import DEFAULT_RECIPE, load_recipe
from contrastlab.data import ImageTensors


def images(n: int, grey: bool, seed: int = 0) -> ImageTensors:
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (n, 1 if grey else 3, 8, 8), generator=generator)
    pixels = pixels.expand(n, 3, 8, 8).contiguous() if grey else pixels
    labels = torch.arange(n) % 2
    return ImageTensors(pixels.to(torch.uint8), labels, {}, ["a", "b"], "folder")


@pytest.mark.parametrize(
    ("source", "stem"),
    [
        ("../x/my_images/", "my_images"),
        ("cifar10-train-jpg.tar.gz", "cifar10-train-jpg"),
        ("/data/faces.npz", "faces"),
        ("weird name (1)", "weird_name_1"),
        ("/", "data"),
    ],
)
def test_data_stem(source: str, stem: str) -> None:
    assert data_stem(source) == stem


def test_named_for_data_names_the_method_and_data_unless_pinned() -> None:
    recipe = load_recipe(DEFAULT_RECIPE)
    named = named_for_data(recipe, "/home/u/my_images")
    assert named.name == "simclr_my_images"
    assert named.description.startswith("simclr on /home/u/my_images")
    assert "built-in shapes" not in named.description
    assert named_for_data(recipe, "/x/y", pinned={"name"}).name == recipe.name


def test_is_greyscale() -> None:
    assert is_greyscale(images(4, grey=True).images)
    colour = images(4, grey=True).images.clone()
    colour[2, 1, 3, 3] ^= 1  # one pixel's green differs
    assert not is_greyscale(colour)
    assert is_greyscale(torch.zeros(2, 1, 4, 4, dtype=torch.uint8))


@pytest.mark.parametrize(
    ("n", "batch", "expected"),
    [
        (160, 256, 16),
        (400, 256, 32),
        (5000, 256, 256),
        (1000, 64, 64),
        (20, 256, 16),
        (10, 256, 10),
    ],
)
def test_small_data_batch(n: int, batch: int, expected: int) -> None:
    assert small_data_batch(n, batch) == expected


def test_fit_to_data_grey_small() -> None:
    recipe = load_recipe(DEFAULT_RECIPE)
    fitted = fit_to_data(recipe, images(400, grey=True))
    augment = fitted.recipe.augment
    assert {key: getattr(augment, key) for key in GREY_AUGMENT} == GREY_AUGMENT
    assert augment.crop_scale == recipe.augment.crop_scale  # what is not about colour stays
    train = fitted.recipe.train
    assert train.batch_size == 32  # 400 / 8 = 50 -> 32
    assert train.epochs == math.ceil(MIN_STEPS / (400 // 32))  # 600 / 12 -> 50
    assert len(fitted.notes) == 3 and "grey" in fitted.notes[0]


def test_fit_to_data_colour_large_data_changes_only_the_colour_distortion() -> None:
    recipe = load_recipe(DEFAULT_RECIPE)
    big = fit_to_data(recipe, images(20000, grey=False))
    assert big.recipe.augment.jitter_strength == COLOUR_AUGMENT["jitter_strength"] == 0.5
    assert big.recipe.augment.gray_p == COLOUR_AUGMENT["gray_p"] == 0.2
    assert big.recipe.train == recipe.train and big.recipe.model == recipe.model
    assert len(big.notes) == 1 and "colour images" in big.notes[0]
    again = fit_to_data(big.recipe, images(20000, grey=False))
    assert again.recipe == big.recipe and again.notes == []  # already so: nothing said


def test_fit_to_data_leaves_pinned_keys_alone() -> None:
    recipe = load_recipe(DEFAULT_RECIPE)
    pinned = {"augment.blur_p", "train.batch_size", "train.epochs"}
    kept = fit_to_data(recipe, images(400, grey=True), pinned=pinned)
    assert kept.recipe == recipe and kept.notes == []


def test_progressive_resolution_under_a_budget_only() -> None:
    recipe = load_recipe(DEFAULT_RECIPE)  # 32 px
    assert progressive_sizes(32) == ((0.0, 16), (0.5, 24), (0.75, 32))
    assert progressive_sizes(96) == ((0.0, 48), (0.5, 72), (0.75, 96))
    assert progressive_sizes(16) == ()
    data = images(20000, grey=False)
    assert fit_to_data(recipe, data).recipe.train.view_sizes == ()
    budgeted = fit_to_data(recipe, data, budgeted=True)
    assert budgeted.recipe.train.view_sizes == ((0.0, 16), (0.5, 24), (0.75, 32))
    assert "progressive resolution: views of 16 px from 0%" in budgeted.notes[-1]
    pinned = fit_to_data(recipe, data, {"train.view_sizes"}, budgeted=True)
    assert pinned.recipe.train.view_sizes == ()


def test_flips_off_where_mirror_images_are_no_images_of_the_data() -> None:
    recipe = load_recipe(DEFAULT_RECIPE)
    pixels = torch.zeros(400, 3, 8, 8, dtype=torch.uint8)
    pixels[:, :, :, :4] = torch.arange(400).div(2, rounding_mode="floor").view(400, 1, 1, 1)
    data = ImageTensors(pixels, torch.arange(400) % 2, {}, ["a", "b"], "folder")
    fitted = fit_to_data(recipe, data)
    assert recipe.augment.flip_p == 0.5 and fitted.recipe.augment.flip_p == 0.0
    assert any("horizontal flips off" in note for note in fitted.notes)
    # random images: a mirror is as near the others as the image itself, flips stay
    assert fit_to_data(recipe, images(400, grey=True)).recipe.augment.flip_p == 0.5
    pinned = fit_to_data(recipe, data, pinned={"augment.crop_scale"})
    assert pinned.recipe.augment == recipe.augment
