"""The raw-pixel baseline: normalisation and flatten order by hand, the suite on pixels equal to
the protocols on a hand-flattened array, and the bound on the pixel linear probe's training set."""

from __future__ import annotations

import pytest
import torch

from contrastlab.config.evaluation import EvalConfig
from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate import extract_features, knn_scores
from contrastlab.evaluate.pixels import (
    PixelFeatures,
    pixel_linear_max_train,
    pixels_too_large,
)
from contrastlab.evaluate.suite import EvalData, SuiteOptions, run_protocols


def test_two_one_channel_images_by_hand() -> None:
    """2 x 1 x 2 x 2 uint8 images, mean 0.2, std 0.5: (x / 255 - 0.2) / 0.5, row by row."""
    images = torch.tensor([[[[0, 51], [102, 255]]], [[[255, 0], [204, 153]]]], dtype=torch.uint8)
    features = extract_features(PixelFeatures([0.2], [0.5]), images, batch_size=1)
    expected = torch.tensor([[-0.4, 0.0, 0.4, 1.6], [1.6, -0.4, 1.2, 0.8]])
    assert features.shape == (2, 4)
    assert torch.allclose(features, expected, atol=1e-6)


def test_channels_come_first_each_with_its_own_statistics() -> None:
    """1 x 2 x 1 x 2: channel 0's two pixels, then channel 1's; channels-last gives the same."""
    images = torch.tensor([[[[255, 0]], [[0, 255]]]], dtype=torch.uint8)
    pixels = PixelFeatures([0.5, 0.0], [0.5, 2.0])
    expected = torch.tensor([[1.0, -1.0, 0.0, 0.5]])
    assert torch.allclose(extract_features(pixels, images), expected)
    assert torch.allclose(extract_features(pixels, images, channels_last=True), expected)


@pytest.mark.parametrize(
    ("mean", "std"), [([0.5], [0.5, 0.5]), ([], []), ([0.5], [0.0])], ids=["lengths", "none", "0"]
)
def test_bad_statistics_are_refused(mean: list[float], std: list[float]) -> None:
    with pytest.raises(ContrastlabError, match="one mean and one positive std per channel"):
        PixelFeatures(mean, std)


def test_the_wrong_channel_count_is_refused() -> None:
    with pytest.raises(ContrastlabError, match=r"expect \(B, 3, H, W\) images, got \(2, 1, 4, 4\)"):
        PixelFeatures([0.5] * 3, [0.5] * 3)(torch.zeros(2, 1, 4, 4))


def _images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes told apart by which colour channel is bright, plus noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    images = torch.randint(0, 120, (n, 3, 4, 4), generator=g, dtype=torch.uint8)
    images[torch.arange(n), labels] += 100
    return images, labels


def test_knn_on_pixels_is_knn_on_the_hand_flattened_array() -> None:
    (train_x, train_y), (test_x, test_y) = _images(60, 0), _images(30, 1)
    mean, std = [0.4, 0.5, 0.6], [0.2, 0.25, 0.3]
    data = EvalData(train_x, train_y, test_x, test_y, num_classes=3)
    config = EvalConfig(protocols=("knn",), knn_k=7, knn_vote="majority")
    figures = run_protocols(PixelFeatures(mean, std), data, config, SuiteOptions())

    def by_hand(x: torch.Tensor) -> torch.Tensor:
        m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
        return ((x.float() / 255 - m) / s).reshape(len(x), -1)  # as the module computes

    expected = knn_scores(
        by_hand(train_x), train_y, by_hand(test_x), test_y, num_classes=3, k=7, vote="majority"
    )
    assert figures["feature_dim"] == 3 * 4 * 4
    assert figures["knn_top1"] == expected["top1"] and figures["knn_top5"] == expected["top5"]
    assert figures["knn_top1"] > 0.9  # the bright channel is in the pixels themselves


def test_the_pixel_probe_is_fitted_on_the_bounded_subset() -> None:
    (train_x, train_y), (test_x, test_y) = _images(60, 0), _images(30, 1)
    data = EvalData(train_x, train_y, test_x, test_y, num_classes=3)
    config = EvalConfig(protocols=("linear",))
    pixels = PixelFeatures([0.5] * 3, [0.25] * 3)
    bounded = run_protocols(pixels, data, config, SuiteOptions(linear_max_train=30))
    whole = run_protocols(pixels, data, config, SuiteOptions())
    assert bounded["linear_train_subset"] == 30 and "linear_train_subset" not in whole
    assert 0.9 < bounded["linear_top1"] <= 1.0


def test_the_bounds_by_image_size() -> None:
    assert pixel_linear_max_train(3 * 32 * 32) == 3255
    assert pixel_linear_max_train(3 * 16 * 16) == 13020
    assert pixel_linear_max_train(10**9) == 1
    assert pixels_too_large(60_000, 3 * 32 * 32) is None  # all of CIFAR-10: 184M values
    message = pixels_too_large(130_000, 3 * 224 * 224)
    assert message is not None and message.startswith("not run: 130000 images x 150528 values")
