"""Figures of the random-labels reproduction (Maennel et al. 2020): eigenvalue mappings at several
points of training, and paired training curves over seeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from contrastlab.core.errors import ContrastlabError
from contrastlab.core.figures import save_figure

__all__ = ["epoch_curves", "mapping_curves", "paired_curves"]


def mapping_curves(
    mappings: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: Path,
    *,
    title: str = "",
) -> Path:
    """Per entry, sigma_i / mean(sigma) against lambda_i (log x) as points, so that layers of
    different norms share one axis, and the least-squares quadratic in log lambda through them
    as a dashed line (the fit whose R^2 `alignment_controls.smoothness` reports); pairs with
    lambda_i <= 0 are left out."""
    if not mappings:
        raise ContrastlabError("mapping_curves needs at least one mapping")
    fig, ax = plt.subplots(figsize=(5.0, 3.6), dpi=120)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (label, (lambdas, sigmas)) in enumerate(mappings.items()):
        lam, sig = np.asarray(lambdas, dtype=float), np.asarray(sigmas, dtype=float)
        if lam.shape != sig.shape:
            raise ContrastlabError(f"{label}: {lam.size} eigenvalues but {sig.size} variances")
        keep = lam > 0
        x, y = np.log(lam[keep]), sig[keep] / sig[keep].mean()
        colour = colours[index % len(colours)]
        ax.scatter(np.exp(x), y, s=12, color=colour, label=label, zorder=3)
        if x.size >= 3:
            grid = np.linspace(x.min(), x.max(), 100)
            fit = np.polyval(np.polyfit(x, y, 2), grid)
            ax.plot(np.exp(grid), fit, color=colour, ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel(r"data eigenvalue $\lambda_i$")
    ax.set_ylabel(r"$\sigma_i = u_i^T \Sigma_w u_i$ / mean")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def epoch_curves(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    path: Path,
    *,
    ylabel: str,
    title: str = "",
    dashed: Sequence[str] = (),
) -> Path:
    """One line per entry over the epochs ``x`` (0 = the start; symmetric-log axis), the
    entries named in ``dashed`` (chance levels) dashed, the legend below the axes."""
    if not series:
        raise ContrastlabError("epoch_curves needs at least one entry")
    fig, ax = plt.subplots(figsize=(5.0, 4.2), dpi=120)
    for label, values in series.items():
        if len(values) != len(x):
            raise ContrastlabError(f"{label}: {len(values)} values for {len(x)} epochs")
        style = "--" if label in dashed else "-"
        ax.plot(x, values, marker="o", ms=4, ls=style, label=label)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xticks(list(x), [f"{v:g}" for v in x])
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def paired_curves(
    x: Sequence[float],
    curves: Mapping[str, Sequence[Sequence[float]]],
    path: Path,
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
) -> Path:
    """Per entry, the mean over seeds as a thick line and every seed as a thin one.

    ``curves[label]`` holds one sequence of len(x) values per seed."""
    if not curves:
        raise ContrastlabError("paired_curves needs at least one entry")
    fig, ax = plt.subplots(figsize=(4.8, 3.4), dpi=120)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (label, runs) in enumerate(curves.items()):
        values = np.asarray(runs, dtype=float)
        if values.ndim != 2 or values.shape[1] != len(x):
            raise ContrastlabError(f"{label}: each seed needs {len(x)} values")
        colour = colours[index % len(colours)]
        for run in values:
            ax.plot(x, run, color=colour, lw=0.8, alpha=0.35)
        ax.plot(x, values.mean(axis=0), color=colour, lw=2, marker="o", label=f"{label} (mean)")
    ax.set_xticks(list(x), [f"{v:g}" for v in x])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, path)
