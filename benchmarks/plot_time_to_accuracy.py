"""The curve of kNN top-1 against training minutes, from the JSON files that
``time_to_accuracy.py`` wrote (one point per run: each budget is its own run, with its schedule
sized to it). Run from the repository root, e.g.::

    python benchmarks/plot_time_to_accuracy.py \\
        benchmarks/results/epyc-avx2/time_to_accuracy_*.json --out docs/figures/time_to_accuracy.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

STYLE = {
    "after": ("o-", "contrastlab, default (--budget)"),
    "before": ("s--", "contrastlab, previous default"),
    "lightly": ("^:", "lightly's SimCLR example loop"),
}


def points(files: list[Path]) -> dict[str, list[tuple[float, float]]]:
    """(training minutes, kNN top-1) per side, over every file, sorted by minutes."""
    found: dict[str, set[tuple[float, float]]] = {side: set() for side in STYLE}
    for file in files:
        result: dict[str, Any] = json.loads(file.read_text())
        for side in ("after", "before"):
            for point in result.get(side, []):
                found[side].add((point["train_seconds"] / 60, point["knn_top1"]))
        if "lightly" in result:
            point = result["lightly"]
            found["lightly"].add((point["train_seconds"] / 60, point["knn_top1"]))
    return {side: sorted(values) for side, values in found.items() if values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+", help="time_to_accuracy JSON files")
    parser.add_argument("--out", type=Path, default=Path("docs/figures/time_to_accuracy.png"))
    args = parser.parse_args()
    figure, axes = plt.subplots(figsize=(6, 4))
    for side, values in points(args.results).items():
        style, label = STYLE[side]
        minutes, top1 = zip(*values, strict=True)
        axes.plot(minutes, top1, style, label=label)
        for x, y in values:
            axes.annotate(f"{y:.3f}", (x, y), textcoords="offset points", xytext=(4, -10))
    axes.set_xscale("log")
    axes.set_xticks([3, 5, 10, 20, 30], labels=["3", "5", "10", "20", "30"])
    axes.minorticks_off()
    axes.set_xlabel("training minutes (log scale; one run per point)")
    axes.set_ylabel("kNN top-1, CIFAR-10 test (10,000)")
    axes.set_title("Time to accuracy on a 2-core CPU (50,000 training images)")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left")
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
