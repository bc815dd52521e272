"""IIC's CPU recipe clusters `digits` well above k-means on raw pixels (about 4 minutes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contrastlab.api.data import prepare_data
from contrastlab.cli import main
from contrastlab.config import METHOD_RECIPES, load_recipe
from contrastlab.evaluate import kmeans_accuracy


@pytest.mark.slow
def test_iic_beats_kmeans_on_raw_pixels(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["train", "iic", "--out", str(out), "--set", "train.progress=false"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    recipe = load_recipe(METHOD_RECIPES["iic"])
    test = prepare_data(recipe.data).test
    assert test is not None and metrics["n_test"] == len(test) == 540
    # k-means (10 clusters, 10 initialisations) on the same held-out images at the same size.
    pixels = test.images.float().flatten(1).numpy()
    kmeans = kmeans_accuracy(pixels, test.labels.numpy(), 10, seed=0)
    print(
        f"\nIIC lowest-loss sub-head {metrics['cluster_top1']:.3f} (sub-heads "
        f"{metrics['cluster_top1_mean']:.3f} +- {metrics['cluster_top1_std']:.3f}, best "
        f"{metrics['cluster_top1_best']:.3f}); random init {metrics['random_cluster_top1']:.3f}; "
        f"k-means on raw pixels {kmeans:.3f}"
    )
    assert metrics["random_cluster_top1"] < 0.3  # chance is 0.1
    # Measured on 2 cores: 0.789 against k-means 0.689 (with 1 thread: 0.870; float summation
    # order changes the run). The sub-head mean (0.694) is no better than k-means: the lowest-loss
    # choice is what IIC reports and what this asserts, with a margin below the measured one.
    assert metrics["cluster_top1"] > kmeans + 0.05
