"""The procedural shapes source: determinism, factor ranges and independence, faithful rendering."""

from __future__ import annotations

import colorsys
import itertools
import math

import numpy as np
import pytest
import torch

from contrastlab.core.errors import DataError
from contrastlab.data import ImageSource, materialize, open_source
from contrastlab.data.shapes import (
    CLASSES,
    FACTORS,
    RANGES,
    ShapesSource,
    render,
    sample_factors,
)

CONTINUOUS = [f for f in FACTORS if f != "shape"]


def small(
    seed: int = 0, n_train: int = 120, n_test: int = 60, image_size: int = 32
) -> ShapesSource:
    splits = open_source(
        "shapes",
        image_size=image_size,
        options={"n_train": n_train, "n_test": n_test, "seed": seed},
    )
    assert isinstance(splits.train, ShapesSource) and isinstance(splits.test, ShapesSource)
    return splits.train


def test_defaults_and_protocol() -> None:
    splits = open_source("shapes")
    assert isinstance(splits.train, ImageSource) and splits.test is not None
    assert (len(splits.train), len(splits.test)) == (10000, 2000)
    assert list(splits.train.classes) == list(CLASSES)
    sample = splits.test[0]  # renders the (smaller) test split only
    assert sample.image.shape == (3, 32, 32) and sample.image.dtype == torch.uint8
    assert set(sample.meta) == set(FACTORS)
    assert sample.label == int(sample.meta["shape"])


def test_renders_natively_at_the_image_size() -> None:
    assert small(image_size=48, n_train=3)[0].image.shape == (3, 48, 48)


def test_same_seed_same_bytes_other_seed_differs() -> None:
    a, b, c = small(seed=3).images, small(seed=3).images, small(seed=4).images
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_train_and_test_use_different_streams() -> None:
    splits = open_source("shapes", options={"n_train": 50, "n_test": 50})
    assert isinstance(splits.train, ShapesSource) and isinstance(splits.test, ShapesSource)
    for key in CONTINUOUS:
        assert not np.allclose(splits.train.factors[key], splits.test.factors[key])


def test_image_i_does_not_depend_on_split_length() -> None:
    assert torch.equal(small(n_train=40).images, small(n_train=90).images[:40])


def test_factors_within_documented_ranges() -> None:
    factors = sample_factors(20000, 0, 0)
    shape = factors["shape"]
    assert set(np.unique(shape).tolist()) == set(range(len(CLASSES)))
    assert np.array_equal(shape, np.floor(shape))
    for key in CONTINUOUS:
        low, high = RANGES[key]
        values = factors[key]
        assert values.min() >= low and values.max() < high, key
        span = high - low  # uniform: every tenth of the range is populated
        counts = np.histogram(values, bins=10, range=(low, high))[0]
        assert counts.min() > 0.08 * len(values), (key, span)
    assert RANGES["size"] == (0.18, 0.32) and RANGES["x"] == RANGES["y"] == (0.32, 0.68)
    assert RANGES["rotation"] == (0.0, 2 * math.pi)


def test_classes_balanced() -> None:
    counts = np.bincount(sample_factors(20000, 0, 0)["shape"].astype(int), minlength=6)
    assert np.all(np.abs(counts - 20000 / 6) < 0.1 * 20000 / 6)


def test_factors_are_independent() -> None:
    factors = sample_factors(20000, 1, 0)
    for a, b in itertools.combinations(CONTINUOUS, 2):
        r = np.corrcoef(factors[a], factors[b])[0, 1]
        assert abs(r) < 0.05, (a, b, r)
    for key in CONTINUOUS:
        low, high = RANGES[key]
        overall = factors[key].mean()
        for cls in range(len(CLASSES)):
            in_class = factors[key][factors["shape"] == cls].mean()
            assert abs(in_class - overall) < 0.03 * (high - low), (key, cls)
    # Position ranges must not depend on size: the extremes of x among the largest and among
    # the smallest shapes both reach the edges of the position range.
    big, tiny = factors["size"] > 0.3, factors["size"] < 0.2
    for mask in (big, tiny):
        assert factors["x"][mask].min() < 0.34 and factors["x"][mask].max() > 0.66


def rgb255(hue: float, saturation: float, value: float) -> np.ndarray:
    return np.rint(np.array(colorsys.hsv_to_rgb(hue, saturation, value)) * 255)


@pytest.mark.parametrize("image_size", [32, 20])
def test_shape_is_drawn_where_the_meta_says(image_size: int) -> None:
    source = small(seed=5, n_train=300, image_size=image_size)
    checked = 0
    for i in range(len(source)):
        sample = source[i]
        meta = sample.meta
        fg = rgb255(meta["fg_hue"], 0.9, meta["fg_value"])
        bg = rgb255(meta["bg_hue"], 0.3, meta["bg_value"])
        image = sample.image.numpy().astype(int)
        # The corner farthest from the centre is at least 0.45 of the side away: background.
        row = 0 if meta["y"] > 0.5 else image_size - 1
        col = 0 if meta["x"] > 0.5 else image_size - 1
        assert np.abs(image[:, row, col] - bg).max() <= 1, i
        if CLASSES[sample.label] in ("square", "circle"):  # filled at the centre
            centre = image[:, int(meta["y"] * image_size), int(meta["x"] * image_size)]
            assert np.abs(centre - fg).max() <= 1, i
            checked += 1
        if CLASSES[sample.label] == "ring":  # the hole shows the background
            centre = image[:, int(meta["y"] * image_size), int(meta["x"] * image_size)]
            assert np.abs(centre - bg).max() <= 1, i
    assert checked > 50


def test_edges_are_antialiased_and_area_grows_with_size() -> None:
    source = small(seed=2, n_train=200)
    images = source.images.int()
    areas, sizes = [], []
    for i in range(len(source)):
        meta = source[i].meta
        fg = torch.tensor(rgb255(meta["fg_hue"], 0.9, meta["fg_value"]))[:, None, None]
        bg = torch.tensor(rgb255(meta["bg_hue"], 0.3, meta["bg_value"]))[:, None, None]
        is_fg = (images[i] - fg).abs().amax(0) <= 1
        is_bg = (images[i] - bg).abs().amax(0) <= 1
        assert bool((~is_fg & ~is_bg).any()), i  # some partly covered pixels on the edges
        if source[i].label == CLASSES.index("circle"):
            areas.append(float(is_fg.sum()))
            sizes.append(meta["size"])
    # A filled circle covers about pi * (size * 32)^2 pixels.
    expected = np.pi * (np.array(sizes) * 32) ** 2
    assert np.all(np.abs(np.array(areas) - expected) < 0.25 * expected)


def test_windowed_rendering_matches_rendering_the_whole_image() -> None:
    # One huge shape in the batch forces the supersampled window to the whole image.
    factors = sample_factors(300, 3, 0)
    widened = {k: np.append(v, 0.6 if k == "size" else v[0]) for k, v in factors.items()}
    assert torch.equal(render(factors, 32), render(widened, 32)[:300])


def test_materialize_keeps_all_factors_as_meta() -> None:
    data = materialize(small(n_train=40), image_size=32)
    assert set(data.meta) == set(FACTORS)
    assert torch.equal(data.labels, data.meta["shape"].long())
    assert data.meta["x"].dtype == torch.float64


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"n_trian": 5}, "unknown option 'n_trian' for data source shapes (valid: n_test, "),
        ({"n_train": 0}, "option n_train=0 for data source shapes must be an integer >= 1"),
        ({"n_test": 2.5}, "option n_test=2.5"),
        ({"seed": -1}, "option seed=-1"),
    ],
)
def test_bad_options(options: dict[str, object], needle: str) -> None:
    with pytest.raises(DataError) as err:
        open_source("shapes", options=options)
    assert needle in str(err.value)


def test_zero_test_images_means_no_test_split() -> None:
    assert open_source("shapes", options={"n_train": 2, "n_test": 0}).test is None
