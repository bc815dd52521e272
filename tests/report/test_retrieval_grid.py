"""The retrieval picture: a PNG whose neighbour frames are green when right and red when wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.image
import numpy as np
import pytest
import torch

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate.retrieval_grid import (
    MATCH_COLOUR,
    MISMATCH_COLOUR,
    frame_colour,
    framed,
    retrieval_grid,
)


def test_frame_colour_is_green_for_the_query_class_and_red_otherwise() -> None:
    assert frame_colour(3, 3) == MATCH_COLOUR
    assert frame_colour(3, 4) == MISMATCH_COLOUR
    r, g, b = MATCH_COLOUR
    assert g > 2 * max(r, b)
    r, g, b = MISMATCH_COLOUR
    assert r > 2 * max(g, b)


def test_framed_pads_grey_images_to_rgb_with_a_coloured_border() -> None:
    image = np.full((1, 4, 5), 77, dtype=np.uint8)
    out = framed(image, (1, 2, 3), 2)
    assert out.shape == (8, 9, 3) and out.dtype == np.uint8
    assert out[0, 0].tolist() == [1, 2, 3] and out[-1, -1].tolist() == [1, 2, 3]
    assert (out[2:6, 2:7] == 77).all()
    colour = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2)
    assert framed(colour, None, 1)[1, 2].tolist() == colour[:, 0, 1].tolist()
    assert framed(colour, None, 1)[0, 0].tolist() == [255, 255, 255]


def is_green(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 1] > 0.5) & (rgb[..., 0] < 0.25) & (rgb[..., 2] < 0.25)


def is_red(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0] > 0.6) & (rgb[..., 1] < 0.25) & (rgb[..., 2] < 0.25)


def test_grid_frames_right_neighbours_green_and_wrong_ones_red(tmp_path: Path) -> None:
    # One query (class 1) and two neighbours: gallery 0 is class 1 (right), gallery 1 class 0.
    grey = torch.full((1, 3, 16, 16), 128, dtype=torch.uint8)
    gallery = torch.full((2, 1, 16, 16), 128, dtype=torch.uint8)
    path = retrieval_grid(
        grey,
        gallery,
        torch.tensor([[0, 1]]),
        torch.tensor([1]),
        torch.tensor([1, 0]),
        tmp_path / "nested" / "grid.png",
        class_names=["cat", "dog"],
        title="retrieval",
    )
    assert path == tmp_path / "nested" / "grid.png" and path.is_file()
    rgb = matplotlib.image.imread(path)[..., :3]
    assert rgb.shape[0] > 50 and rgb.shape[1] > 150 and rgb.std() > 0.05
    # Columns split the width in thirds: query, neighbour 1, neighbour 2.
    third = rgb.shape[1] // 3
    query, first, second = rgb[:, :third], rgb[:, third : 2 * third], rgb[:, 2 * third :]
    assert is_green(first).sum() > 100 and is_red(second).sum() > 100
    assert not is_red(first).any() and not is_green(second).any()
    assert not is_green(query).any() and not is_red(query).any()


def test_grid_has_one_row_per_query(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 8, 8), generator=g, dtype=torch.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2])
    one = matplotlib.image.imread(
        retrieval_grid(
            images[:1], images, np.array([[1, 2, 3]]), labels[:1], labels, tmp_path / "1.png"
        )
    )
    three = matplotlib.image.imread(
        retrieval_grid(
            images[:3], images, np.array([[1, 2, 3]] * 3), labels[:3], labels, tmp_path / "3.png"
        )
    )
    assert one.shape[1] == three.shape[1] and three.shape[0] > 2 * one.shape[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"neighbours": np.array([[0, 7]])},
            r"index the 2 gallery images, got indices from 0 to 7",
        ),
        (
            {"neighbours": np.array([0, 1])},
            r"neighbours must be integer gallery indices of shape \(1, k\)",
        ),
        ({"query_images": torch.zeros(1, 3, 4, 4)}, r"query_images must be a uint8 tensor"),
        ({"gallery_images": torch.zeros(2, 2, 4, 4, dtype=torch.uint8)}, r"1 or 3 channels"),
        ({"gallery_labels": torch.tensor([0])}, r"gallery data has 2 samples but 1 labels"),
        ({"class_names": ["only"]}, r"class_names has 1 names but the labels go up to 1"),
    ],
)
def test_grid_bad_input_raises_a_clear_error(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    args: dict[str, Any] = {
        "query_images": torch.zeros(1, 3, 4, 4, dtype=torch.uint8),
        "gallery_images": torch.zeros(2, 3, 4, 4, dtype=torch.uint8),
        "neighbours": np.array([[0, 1]]),
        "query_labels": torch.tensor([1]),
        "gallery_labels": torch.tensor([1, 0]),
        "path": tmp_path / "grid.png",
    }
    with pytest.raises(ContrastlabError, match=message):
        retrieval_grid(**(args | change))
    assert not (tmp_path / "grid.png").exists()
