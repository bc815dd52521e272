"""Grouped bars: one group per measurement (e.g. a transformation), one bar per model, with a
dashed reference per group (a chance level)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from contrastlab.core.figures import save_figure

__all__ = ["grouped_bars"]


def grouped_bars(
    groups: Sequence[str],
    series: Mapping[str, Sequence[float]],
    path: Path,
    *,
    ylabel: str,
    reference: Sequence[float] | None = None,
    reference_label: str = "chance",
    errors: Mapping[str, Sequence[float]] | None = None,
    title: str = "",
) -> Path:
    """One group of bars per entry of ``groups``, one bar per entry of ``series`` (its values in
    the order of ``groups``), error bars of ``errors[label]`` (e.g. the seeds' s.d.) where given,
    and a dashed line over each group at ``reference`` when given."""
    errors = errors or {}
    for label, values in [*series.items(), *errors.items()]:
        if len(values) != len(groups):
            raise ValueError(f"{label}: {len(values)} values for {len(groups)} groups")
    x = np.arange(len(groups))
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(groups) + 2), 3.6), dpi=120)
    for i, (label, values) in enumerate(series.items()):
        offset = x + (i - (len(series) - 1) / 2) * width
        ax.bar(offset, values, width, yerr=errors.get(label), capsize=3, label=label)
    if reference is not None:
        ax.hlines(
            reference, x - 0.4, x + 0.4, colors="black", linestyles="dashed", lw=1,
            label=reference_label,
        )  # fmt: skip
    ax.set_xticks(x, list(groups), fontsize=8)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.set_ylim(top=ax.get_ylim()[1] * 1.2)  # room for the legend above the bars
    ax.legend(fontsize=7, ncol=3, loc="upper left")
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, path)
