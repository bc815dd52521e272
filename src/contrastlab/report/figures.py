"""Figures for run reports (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


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
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
