"""A bar chart of factor decodability (feature suppression), trained beside random init."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from contrastlab.core.figures import save_figure


def decodability_bars(
    names: Sequence[str],
    series: Mapping[str, Sequence[float]],
    baselines: Sequence[float],
    metrics: Sequence[str],
    path: Path,
    *,
    title: str = "",
) -> Path:
    """One group of bars per factor (one bar per entry of ``series``, e.g. trained and random
    init), a dash at each factor's baseline, the metric (top-1 or R^2) under its name."""
    x = np.arange(len(names))
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(names) + 2), 3.6), dpi=120)
    for i, (label, values) in enumerate(series.items()):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=label)
    ax.hlines(
        baselines,
        x - 0.4,
        x + 0.4,
        colors="black",
        linestyles="dashed",
        lw=1,
        label="baseline (no features)",
    )
    ax.set_xticks(x, [f"{n}\n({m})" for n, m in zip(names, metrics, strict=True)], fontsize=8)
    ax.set_ylabel("linear read-out: top-1 or R^2")
    ax.axhline(0, color="gray", lw=0.5)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)
