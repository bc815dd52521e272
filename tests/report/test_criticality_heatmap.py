"""The module-criticality heat map: a PNG of modules x alpha at one noise scale."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from contrastlab.analysis.criticality import ModuleCriticality
from contrastlab.core.errors import ContrastlabError
from contrastlab.report.criticality_heatmap import criticality_heatmap


def result(name: str, values: list[list[float]], mu: float) -> ModuleCriticality:
    return ModuleCriticality(
        name=name,
        distance=1.0,
        alphas=[0.0, 0.5, 1.0],
        sigmas=[0.0, 0.1],
        values=values,
        final=0.0,
        rewind_alpha=0.5,
        criticality=mu,
        argmin=None if math.isinf(mu) else (0.5, 0.1),
    )


RESULTS = [
    result("conv1", [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], 25.0),
    result("fc", [[0.9, 0.5, 0.0], [0.9, 0.7, 0.1]], math.inf),
]


def test_heatmap_is_a_png_with_both_extremes_of_the_colour_map(tmp_path: Path) -> None:
    path = criticality_heatmap(RESULTS, tmp_path / "sub" / "crit.png", title="tiny")
    assert path == tmp_path / "sub" / "crit.png" and path.is_file()
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    rgb = image[..., :3].reshape(-1, 3)
    viridis_low, viridis_high = np.array([0.267, 0.005, 0.329]), np.array([0.993, 0.906, 0.144])
    assert (np.abs(rgb - viridis_low).max(axis=1) < 0.02).sum() > 50  # the zero cells
    assert (np.abs(rgb - viridis_high).max(axis=1) < 0.02).sum() > 50  # the 0.9 cell
    assert criticality_heatmap(RESULTS, tmp_path / "noisy.png", sigma=0.1).is_file()


def test_heatmap_refuses_an_unknown_sigma_or_mixed_grids(tmp_path: Path) -> None:
    with pytest.raises(ContrastlabError, match=r"sigma must be one of the searched \[0.0, 0.1\]"):
        criticality_heatmap(RESULTS, tmp_path / "a.png", sigma=0.5)
    other = dataclasses.replace(RESULTS[1], alphas=[0.0, 1.0])
    with pytest.raises(ContrastlabError, match="'fc' was searched on another grid"):
        criticality_heatmap([RESULTS[0], other], tmp_path / "b.png")
    with pytest.raises(ContrastlabError, match="got none"):
        criticality_heatmap([], tmp_path / "c.png")
    assert not list(tmp_path.iterdir())
