"""Curves of several runs against a swept quantity (transformation strength, interpolation
coefficient), one panel per quantity: feature similarity, loss, accuracy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from contrastlab.core.figures import save_figure


def similarity_curves(
    strengths: Mapping[str, Sequence[float]],
    curves: Mapping[str, Mapping[str, Sequence[float]]],
    path: Path,
    *,
    title: str = "",
    ylabel: str = "mean cosine similarity",
) -> Path:
    """``curves[transform][label]`` against ``strengths[transform]``: one panel per transform,
    one line per label (e.g. trained, random init), ``ylabel`` on the y axis."""
    fig = plt.figure(figsize=(4.2 * len(curves), 3.4), dpi=120)
    fig.subplots(1, len(curves), squeeze=False)
    for ax, (name, lines) in zip(fig.axes, curves.items(), strict=True):
        for label, values in lines.items():
            ax.plot(strengths[name], values, marker="o", ms=3, label=label)
        ax.set_xlabel(name)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)
