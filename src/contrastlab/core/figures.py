"""Figures for run reports (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def save_figure(fig: Figure, path: str | Path, *, tight: bool = True) -> Path:
    """Lay ``fig`` out (``tight_layout`` unless ``tight`` is false), write it to ``path`` whole
    or not at all (the format from the suffix, PNG by default) and close it; the path."""
    # imported here: contrastlab.train's package imports the evaluation, which imports report
    from contrastlab.core.atomic import atomic_write

    out = Path(path)
    if tight:
        fig.tight_layout()

    def write(handle: IO[bytes]) -> None:
        fig.savefig(handle, format=out.suffix.lstrip(".") or "png")

    try:
        atomic_write(out, write)
    finally:
        plt.close(fig)
    return out


def loss_curve(history: Sequence[Mapping[str, float | int]], path: Path, title: str = "") -> Path:
    """Mean training loss per epoch (and the learning rate on a second axis), saved as PNG."""
    epochs = [row["epoch"] for row in history]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    ax.plot(
        epochs, [row["loss"] for row in history], marker="o", ms=3, color="tab:blue", label="loss"
    )
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (NT-Xent)", color="tab:blue")
    ax.grid(alpha=0.3)
    if all("lr" in row for row in history):
        lr_ax = ax.twinx()
        lr_ax.plot(epochs, [row["lr"] for row in history], color="tab:gray", lw=1, ls="--")
        lr_ax.set_ylabel("learning rate (end of epoch)", color="tab:gray")
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)
