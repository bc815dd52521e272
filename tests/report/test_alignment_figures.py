"""The random-labels reproduction's figures: eigenvalue mappings and paired training curves."""

from __future__ import annotations

from pathlib import Path

import pytest

from contrastlab.core.errors import ContrastlabError
from contrastlab.report.alignment_figures import epoch_curves, mapping_curves, paired_curves


def test_figures_are_written(tmp_path: Path) -> None:
    lam = [0.0, 0.1, 1.0, 10.0]
    path = mapping_curves(
        {"start": (lam, [1.0, 1.0, 1.1, 0.9]), "end": (lam, [0.1, 0.5, 2.0, 1.0])},
        tmp_path / "m.png",
        title="t",
    )
    assert path.is_file() and path.stat().st_size > 1000
    curves = {"default": [[1.8, 1.6], [1.9, 1.7]], "aligned": [[1.7, 1.5], [1.8, 1.6]]}
    out = paired_curves([1, 2], curves, tmp_path / "p.png", xlabel="epoch", ylabel="loss")
    assert out.is_file() and out.stat().st_size > 1000
    series = {"trained": [0.8, 0.7, 0.6], "chance": [0.8, 0.85, 0.86]}
    drawn = epoch_curves([0, 1, 4], series, tmp_path / "e.png", ylabel="m", dashed=["chance"])
    assert drawn.is_file() and drawn.stat().st_size > 1000


def test_figure_errors(tmp_path: Path) -> None:
    with pytest.raises(ContrastlabError, match="variances"):
        mapping_curves({"a": ([1.0, 2.0], [1.0])}, tmp_path / "m.png")
    with pytest.raises(ContrastlabError, match="needs 2 values"):
        paired_curves([1, 2], {"a": [[1.0]]}, tmp_path / "p.png", xlabel="x", ylabel="y")
    with pytest.raises(ContrastlabError, match="at least one"):
        paired_curves([1], {}, tmp_path / "p.png", xlabel="x", ylabel="y")
    with pytest.raises(ContrastlabError, match="2 values for 3 epochs"):
        epoch_curves([0, 1, 2], {"a": [1.0, 2.0]}, tmp_path / "e.png", ylabel="y")
