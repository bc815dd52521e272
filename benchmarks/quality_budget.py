"""Quality per compute: kNN top-1 after the same CPU training time, our default SimCLR recipe
against lightly's SimCLR example loop, on a CIFAR-10 JPEG subset.

1. ``contrastlab train`` with the default recipe (SimCLR, ResNet-18 at 1/8 width, CIFAR stem;
   ``--epochs``) on ``--train-images`` stratified CIFAR-10 training images; its ``train_seconds``
   is the budget.
2. lightly's loop (``train_step.Lightly``: ResNet-18 CIFAR stem, ``SimCLRProjectionHead``,
   ``NTXentLoss``, SGD 0.06) on the same images, decoded once, for the same number of seconds.
3. Both encoders (without their heads) are evaluated the same way: weighted kNN (k 200, t 0.1,
   cosine) of ``--test-images`` CIFAR-10 test images against the training images' features.

Prints both and writes ``--json``. Run: ``python benchmarks/quality_budget.py`` (needs lightly and
``../shared/datasets``).
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
from contrastlab.config.schema import IMAGENET_MEAN, IMAGENET_STD, DataConfig
from contrastlab.evaluate.knn import knn_accuracy
from machine import describe
from train_step import Lightly, Setup

DATASETS = Path("../shared/datasets/cifar10-jpg")


def train_ours(out: Path, data: list[str], epochs: int) -> dict[str, Any]:
    command = [
        *(sys.executable, "-m", "contrastlab", "train", "simclr", "--out", str(out)),
        *("--epochs", str(epochs), *data),
        *("--set", "eval.protocols=[knn]", "--set", "eval.random_baseline=false"),
    ]
    subprocess.run(command, check=True)
    metrics: dict[str, Any] = json.loads((out / "metrics.json").read_text())
    return metrics


def train_lightly(
    pil: list[Image.Image], seconds: float, batch: int, workers: int
) -> tuple[nn.Module, int]:
    """lightly's loop until ``seconds`` of training have passed; the backbone and steps taken."""
    loop = Lightly(pil, batch, workers, Setup())
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        loop.step()
        steps += 1
    return loop.backbone, steps


@torch.no_grad()
def lightly_features(backbone: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Backbone features of uint8 images, normalised as lightly's transform does."""
    backbone.eval()
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    chunks = [
        backbone((images[i : i + 512].float() / 255 - mean) / std)
        for i in range(0, len(images), 512)
    ]
    return torch.cat(chunks).flatten(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--epochs", type=int, default=55, help="ours; sets the budget (about 15 min here)"
    )
    parser.add_argument("--train-images", type=int, default=10000)
    parser.add_argument("--test-images", type=int, default=2000)
    parser.add_argument("--lightly-workers", type=int, default=0)
    parser.add_argument("--lightly-batch", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-quality"))
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/quality.json"))
    args = parser.parse_args()
    train_tar = DATASETS / "cifar10-train-jpg.tar.gz"
    test_tar = DATASETS / "cifar10-test-jpg.tar.gz"
    data = ["--data", str(train_tar), "--eval-data", str(test_tar)]
    data += ["--set", f"data.limit={args.train_images}"]
    data += ["--set", f"data.eval_limit={args.test_images}"]

    ours = train_ours(args.out / "ours", data, args.epochs)
    budget = float(ours["train_seconds"])
    config = DataConfig(
        source=str(train_tar),
        eval_source=str(test_tar),
        image_size=32,
        limit=args.train_images,
        eval_limit=args.test_images,
    )
    prepared = prepare_data(config)
    assert prepared.test is not None
    train, test = prepared.train, prepared.test
    pil = [Image.fromarray(image.permute(1, 2, 0).numpy()) for image in train.images]
    backbone, steps = train_lightly(pil, budget, args.lightly_batch, args.lightly_workers)
    top1 = knn_accuracy(
        nn.functional.normalize(lightly_features(backbone, train.images), dim=1),
        train.labels,
        nn.functional.normalize(lightly_features(backbone, test.images), dim=1),
        test.labels,
        num_classes=10,
    )
    result = {
        "machine": describe(),
        "train_images": len(train),
        "test_images": len(test),
        "budget_s": budget,
        "contrastlab": {
            "epochs": args.epochs,
            "images_per_s": args.epochs * len(train) / budget,
            "knn_top1": ours["knn_top1"],
        },
        "lightly": {
            "steps": steps,
            "batch": args.lightly_batch,
            "images_per_s": steps * args.lightly_batch / budget,
            "knn_top1": top1,
        },
    }
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
