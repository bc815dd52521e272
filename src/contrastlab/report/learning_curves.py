"""Learning curves (test top-1 against optimiser steps) of several runs, with a target line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from contrastlab.core.figures import save_figure


def learning_curves(
    curves: Mapping[str, Sequence[Mapping[str, float]]],
    path: Path,
    *,
    target: float | None = None,
    title: str = "",
) -> Path:
    """One line per entry of ``curves`` (rows with ``step`` and ``top1``), saved as PNG."""
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    for label, curve in curves.items():
        ax.plot(
            [r["step"] for r in curve], [r["top1"] for r in curve], marker="o", ms=3, label=label
        )
    if target is not None:
        ax.axhline(target, color="gray", ls="--", lw=1, label=f"target {target:.3f}")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("test top-1")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)
