"""The module-criticality picture: the metric over modules x rewind alpha, as a PNG heat map.

After the module-criticality plots of Chatterji, Neyshabur & Sedghi 2020 and Neyshabur, Sedghi &
Zhang 2020 (recalled, [MEM]), which show the train error over the rewind alpha (and the
noise sigma) for each module: here one row per module, one column per alpha, at one sigma of
the search (sigma 0 by default: pure rewinding). Each row is labelled with the module's
criticality mu; at sigma 0 a dot marks its smallest feasible alpha.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from contrastlab.analysis.criticality import ModuleCriticality
from contrastlab.core.errors import ContrastlabError
from contrastlab.core.figures import save_figure

__all__ = ["criticality_heatmap"]


def criticality_heatmap(
    results: Sequence[ModuleCriticality],
    path: Path,
    *,
    sigma: float = 0.0,
    metric: str = "error",
    title: str = "",
) -> Path:
    """Draw ``results`` of :func:`~contrastlab.analysis.criticality.module_criticality` at noise
    ``sigma`` (one of their sigmas) as a modules x alpha heat map, saved as PNG at ``path``.

    Cell colour: the mean metric (named ``metric`` on the colour bar) with the module rewound to
    alpha; rows in the order of ``results``, labelled ``name (mu=...)``. All results must share
    one grid of alphas and sigmas.
    """
    if not results:
        raise ContrastlabError("criticality_heatmap needs at least one module's result, got none")
    alphas, sigmas = results[0].alphas, results[0].sigmas
    for result in results[1:]:
        if result.alphas != alphas or result.sigmas != sigmas:
            raise ContrastlabError(
                f"module {result.name!r} was searched on another grid than {results[0].name!r}"
            )
    if sigma not in sigmas:
        raise ContrastlabError(f"sigma must be one of the searched {sigmas}, got {sigma}")
    row = sigmas.index(sigma)
    grid = np.array([result.values[row] for result in results], dtype=np.float64)

    fig, ax = plt.subplots(figsize=(1.6 + 0.45 * len(alphas), 1.2 + 0.4 * len(results)), dpi=120)
    image = ax.imshow(grid, aspect="auto", cmap="viridis", interpolation="nearest")
    fig.colorbar(image, ax=ax, label=metric)
    ax.set_xticks(range(len(alphas)), [f"{a:g}" for a in alphas], fontsize=7)
    ax.set_yticks(
        range(len(results)), [f"{r.name} (mu={r.criticality:.3g})" for r in results], fontsize=7
    )
    ax.set_xlabel("alpha (0: initial weights, 1: final)")
    if sigma == 0.0:
        for i, result in enumerate(results):
            if result.rewind_alpha in alphas:
                ax.plot(alphas.index(result.rewind_alpha), i, "o", color="white", ms=4)
    ax.set_title(title or f"module criticality, sigma = {sigma:g}", fontsize=10)
    return save_figure(fig, path)
