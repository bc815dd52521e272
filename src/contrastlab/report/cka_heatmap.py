"""A CKA heatmap: similarity of every layer of model A (rows) to every layer of model B (columns).

The figure of Kornblith et al. 2019 ("Similarity of Neural Network Representations Revisited")
and Nguyen, Raghu & Kornblith 2021: one cell per layer pair, the first layers at the bottom left,
one fixed colour scale from 0 to 1 so that figures can be compared. Values come from
:func:`contrastlab.analysis.cka.cka_matrix`; the minibatch estimator can stray slightly below 0 or
above 1, which the colours clip but the annotations show. NaN cells are drawn grey.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np

from contrastlab.core.errors import ContrastlabError

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from contrastlab.core.figures import save_figure

__all__ = ["ANNOTATE_MAX_CELLS", "cka_heatmap"]

ANNOTATE_MAX_CELLS = 144
"""Cells are labelled with their value (two decimals) up to this many, e.g. 12 x 12 layers."""


def cka_heatmap(
    matrix: np.ndarray,
    layers_a: Sequence[str],
    layers_b: Sequence[str],
    path: Path | str,
    *,
    title: str = "",
) -> Path:
    """Draw ``matrix`` (len(layers_a), len(layers_b)) as a heatmap, save it as PNG at ``path``.

    Rows are ``layers_a`` (model A, bottom to top), columns ``layers_b`` (model B, left to
    right); the colour bar runs from 0 to 1. Cells carry their value when there are at most
    :data:`ANNOTATE_MAX_CELLS`. Parent folders are created. Returns the path.
    """
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim != 2 or values.shape != (len(layers_a), len(layers_b)):
        raise ContrastlabError(
            f"the CKA matrix has shape {values.shape} but there are {len(layers_a)} layers of "
            f"model A and {len(layers_b)} of model B"
        )
    if values.size == 0:
        raise ContrastlabError("the CKA heatmap needs at least one layer a side, got none")
    if np.isinf(values).any():
        raise ContrastlabError("the CKA matrix holds infinite values; CKA lies in [0, 1]")
    rows, cols = values.shape
    fig, ax = plt.subplots(
        figsize=(min(2.5 + 0.55 * cols, 16), min(1.8 + 0.45 * rows, 14)), dpi=120
    )
    cmap = plt.get_cmap("magma").with_extremes(bad="lightgrey")
    image = ax.imshow(
        np.ma.masked_invalid(values), cmap=cmap, vmin=0.0, vmax=1.0, origin="lower", aspect="auto"
    )
    fig.colorbar(image, ax=ax, label="CKA", fraction=0.05, pad=0.03)
    ax.set_xticks(range(cols), labels=list(layers_b), rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(rows), labels=list(layers_a), fontsize=7)
    ax.set_xlabel("layer of model B")
    ax.set_ylabel("layer of model A")
    if values.size <= ANNOTATE_MAX_CELLS:
        for (i, j), value in np.ndenumerate(values):
            text = "n/a" if np.isnan(value) else f"{value:.2f}"
            colour = "black" if np.isnan(value) or value > 0.6 else "white"
            ax.text(j, i, text, ha="center", va="center", fontsize=6, color=colour)
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)
