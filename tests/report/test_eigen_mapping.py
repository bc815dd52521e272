"""The eigenvalue-mapping figure: a PNG of sigma_i against lambda_i on a log-x axis."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import pytest
import torch

from contrastlab.core.errors import ContrastlabError
from contrastlab.report.eigen_mapping import eigenvalue_mapping_plot


def test_plot_writes_a_png(tmp_path: Path) -> None:
    lambdas = torch.tensor([0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0], dtype=torch.float64)
    sigmas = lambdas * (1 - lambdas) + 0.01
    path = eigenvalue_mapping_plot(lambdas, sigmas, tmp_path / "sub" / "map.png", title="hump")
    assert path == tmp_path / "sub" / "map.png"
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0  # not a blank canvas


def test_plot_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ContrastlabError, match="3 eigenvalues but 2 variances"):
        eigenvalue_mapping_plot([1.0, 2.0, 3.0], [1.0, 2.0], tmp_path / "a.png")
    with pytest.raises(ContrastlabError, match="positive eigenvalue"):
        eigenvalue_mapping_plot([0.0, -1.0], [1.0, 2.0], tmp_path / "b.png")
