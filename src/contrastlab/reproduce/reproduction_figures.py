"""Generic reproduction figures: bars with seed spread, curves of one figure over a sweep."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from contrastlab.core.figures import save_figure

__all__ = ["seed_bars", "sweep_curves"]


def seed_bars(
    series: Mapping[str, Sequence[float]], path: Path, *, ylabel: str, title: str = ""
) -> Path:
    """One bar per entry (the mean over seeds), its seeds as dots and +-1 s.d. as an error bar."""
    names = list(series)
    means = [float(np.mean(series[n])) for n in names]
    spreads = [float(np.std(series[n], ddof=1)) if len(series[n]) > 1 else 0.0 for n in names]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(names) + 1.5), 3.4), dpi=120)
    x = np.arange(len(names))
    ax.bar(x, means, 0.6, yerr=spreads, capsize=4, color="tab:blue", alpha=0.7)
    for i, name in enumerate(names):
        ax.scatter([i] * len(series[name]), series[name], color="black", s=12, zorder=3)
    low = min(min(v) for v in series.values())
    ax.set_ylim(
        max(0.0, low - 0.1 * (1 - low) - 0.05), min(1.0, max(map(max, series.values())) + 0.05)
    )
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def sweep_curves(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    path: Path,
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    log_x: bool = False,
    chance: float | None = None,
) -> Path:
    """One line per entry of ``series`` over the sweep ``x`` (e.g. accuracy vs bits per tau)."""
    fig, ax = plt.subplots(figsize=(4.8, 3.4), dpi=120)
    for label, values in series.items():
        ax.plot(x, values, marker="o", label=label)
    if chance is not None:
        ax.axhline(chance, color="grey", ls="--", lw=1, label="chance")
    if log_x:
        ax.set_xscale("symlog", linthresh=1)
    ax.set_xticks(list(x), [f"{v:g}" for v in x])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
