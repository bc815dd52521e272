"""The eigenvalue-mapping figure: the filters' variance along each data eigenvector (matplotlib).

Maennel et al. 2020 (arXiv 2006.10455) plot sigma_i = u_i^T Sigma_w u_i against the data
eigenvalues lambda_i; after random-label training the points lie on a smooth curve f, the mapping
of the aligned covariance Sigma_w = U f(Lambda) U^T. The pairs come from
:func:`contrastlab.analysis.covariance.eigenvalue_mapping`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from contrastlab.core.errors import ContrastlabError
from contrastlab.core.figures import save_figure

__all__ = ["eigenvalue_mapping_plot"]


def eigenvalue_mapping_plot(
    lambdas: Sequence[float] | np.ndarray | torch.Tensor,
    sigmas: Sequence[float] | np.ndarray | torch.Tensor,
    path: Path,
    *,
    title: str = "",
) -> Path:
    """sigma_i against lambda_i on a log-x axis, saved as PNG at ``path``; returns ``path``.

    Points with lambda_i <= 0 (a rank-deficient patch covariance, or rounding) cannot sit on the
    log axis and are left out; the x label says how many.
    """
    lam = np.asarray(torch.as_tensor(lambdas, dtype=torch.float64)).ravel()
    sig = np.asarray(torch.as_tensor(sigmas, dtype=torch.float64)).ravel()
    if lam.shape != sig.shape:
        raise ContrastlabError(f"got {lam.size} eigenvalues but {sig.size} variances")
    keep = lam > 0
    if not keep.any():
        raise ContrastlabError("eigenvalue_mapping_plot needs at least one positive eigenvalue")
    order = np.argsort(lam[keep])
    x, y = lam[keep][order], sig[keep][order]
    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=120)
    ax.plot(x, y, color="tab:blue", lw=1, alpha=0.6)
    ax.scatter(x, y, s=10, color="tab:blue", zorder=3)
    ax.set_xscale("log")
    dropped = int((~keep).sum())
    note = f" ({dropped} non-positive left out)" if dropped else ""
    ax.set_xlabel(f"data eigenvalue $\\lambda_i${note}")
    ax.set_ylabel(r"filter variance $\sigma_i = u_i^T \Sigma_w u_i$")
    ax.grid(alpha=0.3, which="both")
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)
