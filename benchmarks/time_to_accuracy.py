"""Time to accuracy on CIFAR-10: kNN top-1 on the 10,000 test images against training minutes,
for our default CPU recipe now, the default recipe before (``recipes/``), and lightly's SimCLR
example loop given the same images and seconds.

1. ``contrastlab train --data TRAIN --eval-data TEST --budget B`` for each budget of ``--budgets``
   (side ``after``: the default recipe as bundled now) and ``--before-budgets`` (side
   ``before``: ``--before-recipe``, the default recipe of the previous release, with
   ``--no-adapt`` semantics since a recipe file is taken as is). Each run is its own: its
   schedule is sized to its budget, so each point is what a user asking for that budget gets.
   kNN only (weighted, k 200, t 0.1, cosine; bank = the training images used).
2. lightly's loop (``train_step.Lightly``: full-width ResNet-18 with the CIFAR stem, its
   ``SimCLRTransform``, ``SimCLRProjectionHead``, ``NTXentLoss``, SGD 0.06, batch 256) on the
   same decoded images for the ``train_seconds`` of the ``after`` run at ``--lightly-budget``,
   evaluated the same way.

Prints a table and writes ``--json``. Run from the repository root, e.g.::

    python benchmarks/time_to_accuracy.py --datasets ../shared/datasets \\
        --budgets 4.5m 30m --before-budgets 4.5m --lightly-budget 4.5m

(needs lightly: ``pip install --no-deps lightly lightning-utilities``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

from contrastlab.api.data import prepare_data
from contrastlab.config.schema import DataConfig
from contrastlab.evaluate.knn import knn_accuracy
from machine import describe
from quality_lightly import lightly_features, train_lightly

HERE = Path(__file__).resolve().parent
KNN_ONLY = [
    *("--set", "eval.protocols=[knn]", "--set", "eval.random_baseline=false"),
    *("--set", "eval.pixel_baseline=false"),
]


def train_ours(out: Path, data: list[str], budget: str, recipe: Path | None) -> dict[str, Any]:
    """One ``contrastlab train --budget`` run (reused when ``out`` already holds its
    metrics.json and wall time); its figures and the command's wall seconds."""
    wall = out / "wall_seconds.txt"
    if not (out / "metrics.json").is_file() or not wall.is_file():
        command = [sys.executable, "-m", "contrastlab", "train", "--out", str(out), *data]
        command += ["--budget", budget, *KNN_ONLY]
        if recipe is not None:
            command += ["--recipe", str(recipe)]
        start = time.perf_counter()
        subprocess.run(command, check=True)
        wall.write_text(f"{time.perf_counter() - start:.1f}\n")
    metrics: dict[str, Any] = json.loads((out / "metrics.json").read_text())
    keep = ("knn_top1", "train_seconds", "steps", "epochs", "n_train", "n_test")
    return {
        "budget": budget,
        "wall_seconds": float(wall.read_text()),
        "measured": metrics.get("budget"),
        **{key: metrics.get(key) for key in keep},
    }


def lightly_point(config: DataConfig, seconds: float) -> dict[str, Any]:
    """lightly's loop for ``seconds`` on the decoded images, then the same kNN."""
    prepared = prepare_data(config)
    assert prepared.test is not None
    train, test = prepared.train, prepared.test
    pil = [Image.fromarray(image.permute(1, 2, 0).numpy()) for image in train.images]
    backbone, steps = train_lightly(pil, seconds, batch=256, workers=0)
    top1 = knn_accuracy(
        nn.functional.normalize(lightly_features(backbone, train.images), dim=1),
        train.labels,
        nn.functional.normalize(lightly_features(backbone, test.images), dim=1),
        test.labels,
        num_classes=10,
    )
    return {"train_seconds": round(seconds, 1), "steps": steps, "batch": 256, "knn_top1": top1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, required=True, help="holds cifar10-jpg/")
    parser.add_argument("--budgets", nargs="*", default=["4.5m", "30m"])
    parser.add_argument("--before-budgets", nargs="*", default=["4.5m"])
    parser.add_argument("--before-recipe", type=Path, default=HERE / "recipes" / "before.yaml")
    parser.add_argument("--lightly-budget", default="4.5m", help="'' to skip lightly")
    parser.add_argument("--train-images", type=int, default=50000)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-time-to-accuracy"))
    parser.add_argument("--json", type=Path, default=HERE / "results" / "time_to_accuracy.json")
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    cifar = args.datasets / "cifar10-jpg"
    train_tar, test_tar = cifar / "cifar10-train-jpg.tar.gz", cifar / "cifar10-test-jpg.tar.gz"
    data = ["--data", str(train_tar), "--eval-data", str(test_tar)]
    data += ["--set", f"data.limit={args.train_images}"]
    result: dict[str, Any] = {"machine": describe(), "after": [], "before": []}
    for side, budgets, recipe in (
        ("after", args.budgets, None),
        ("before", args.before_budgets, args.before_recipe),
    ):
        for budget in budgets:
            out = args.out / f"{side}-{budget}"
            result[side].append(train_ours(out, data, budget, recipe))
            print(json.dumps(result[side][-1]), flush=True)
    if args.lightly_budget:
        ours = next(p for p in result["after"] if p["budget"] == args.lightly_budget)
        config = DataConfig(
            source=str(train_tar), eval_source=str(test_tar), limit=args.train_images
        )
        result["lightly"] = lightly_point(config, float(ours["train_seconds"]))
        result["lightly"]["against"] = args.lightly_budget
    print(table(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


def table(result: dict[str, Any]) -> str:
    lines = [
        "| side | budget | training s | wall s | steps | kNN top-1 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for side in ("before", "after"):
        for p in result[side]:
            lines.append(
                f"| {side} | {p['budget']} | {p['train_seconds']:.0f} | {p['wall_seconds']:.0f} "
                f"| {p['steps']} | {p['knn_top1']:.3f} |"
            )
    if "lightly" in result:
        p = result["lightly"]
        lines.append(
            f"| lightly | = after {p['against']} | {p['train_seconds']:.0f} | | {p['steps']} "
            f"| {p['knn_top1']:.3f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
