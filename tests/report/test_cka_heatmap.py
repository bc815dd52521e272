"""The CKA heatmap: a PNG with distinct colours for distinct values, and its shape checks."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from contrastlab.core.errors import ContrastlabError
from contrastlab.report.cka_heatmap import cka_heatmap


def test_writes_a_non_trivial_png(tmp_path: Path) -> None:
    matrix = np.array([[1.0, 0.5, 0.1], [0.5, 1.0, np.nan]])
    path = cka_heatmap(matrix, ["conv1", "layer1"], ["a", "b", "c"], tmp_path / "sub" / "cka.png")
    assert path == tmp_path / "sub" / "cka.png" and path.stat().st_size > 5_000
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 200
    colours = np.unique(pixels[..., :3].reshape(-1, 3).round(2), axis=0)
    assert len(colours) > 50  # cells, colour bar and text, not a blank canvas


def test_large_matrix_and_str_path(tmp_path: Path) -> None:
    names = [f"block{i}" for i in range(20)]  # 400 cells: no annotations
    matrix = np.random.default_rng(0).uniform(-0.01, 1.01, (20, 20))
    path = cka_heatmap(matrix, names, names, str(tmp_path / "big.png"), title="A vs B")
    assert path.suffix == ".png" and path.stat().st_size > 5_000


def test_shape_mismatch_and_infinite_values_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ContrastlabError, match=r"shape \(2, 2\) but there are 2 layers .* 3"):
        cka_heatmap(np.eye(2), ["a", "b"], ["x", "y", "z"], tmp_path / "x.png")
    with pytest.raises(ContrastlabError, match="infinite"):
        cka_heatmap(np.full((1, 1), np.inf), ["a"], ["b"], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
