"""kNN top-1 after a fixed number of SimCLR steps of the default CPU recipe with some settings
changed: the quick probe behind the choices `contrastlab.api.adapt` makes for a user's images.

Trains the default recipe's method (``--set KEY=VALUE`` overrides, as for ``contrastlab train``)
for ``--steps`` optimiser steps of batch ``train.batch_size`` on ``--train-images`` CIFAR-10
training images (decoded once from the JPEG archive, in an order drawn with seed 0), with a 3%
linear warm-up then cosine to 0 over those steps and, with ``--view-sizes 16 16 24 32``,
progressive resolution in equal shares of the steps; then weighted kNN (k 200, t 0.1, cosine)
of the first ``--test-images`` test images against the training images. Equal steps, not equal
time: a comparison that other work on the machine cannot bias; the training seconds are printed
beside. Every result is appended to ``--jsonl``. (The figures quoted in `contrastlab.api.adapt`
and docs/training.md were measured with this procedure as a one-off script, two probes at a time
on one thread each, ``OMP_NUM_THREADS=1``, whose warm-up began at 0 rather than at 1/12 of the
peak learning rate.)

    python benchmarks/steps_probe.py --datasets ../shared/datasets --steps 400 --tag default
    python benchmarks/steps_probe.py --datasets ../shared/datasets --steps 400 --tag cifar-colour \\
        --set augment.jitter_strength=0.5 --set augment.gray_p=0.2
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

import torch
from torch.optim.lr_scheduler import LambdaLR

from contrastlab.api.data import prepare_data
from contrastlab.config import DEFAULT_RECIPE, load_recipe, parse_override
from contrastlab.config.schema import DataConfig
from contrastlab.evaluate.features import extract_features
from contrastlab.evaluate.knn import knn_scores
from contrastlab.methods import build_method, method_representation
from contrastlab.methods.parts import set_view_size
from contrastlab.optim.optimizers import build_optimizer, warmup_cosine

WARMUP = 0.03  # of the steps: linear warm-up, then cosine to 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, required=True, help="holds cifar10-jpg/")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--train-images", type=int, default=50000)
    parser.add_argument("--test-images", type=int, default=5000)
    parser.add_argument("--view-sizes", type=int, nargs="*", default=[], help="equal shares")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--tag", default="probe")
    parser.add_argument("--jsonl", type=Path, default=Path("runs/steps_probe.jsonl"))
    args = parser.parse_args()
    recipe = load_recipe(DEFAULT_RECIPE, [parse_override(text) for text in args.set])
    cifar = args.datasets / "cifar10-jpg"
    data = prepare_data(
        DataConfig(
            source=str(cifar / "cifar10-train-jpg.tar.gz"),
            eval_source=str(cifar / "cifar10-test-jpg.tar.gz"),
        )
    )
    assert data.test is not None
    pick = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))
    images, labels = data.train.images[pick], data.train.labels[pick]
    images, labels = images[: args.train_images], labels[: args.train_images]
    torch.manual_seed(recipe.train.seed)
    method = build_method(recipe)
    batch = recipe.train.batch_size
    optimizer = build_optimizer(recipe.optim, method, batch)
    schedule = partial(warmup_cosine, total_steps=args.steps, final_fraction=0.0)
    scheduler = LambdaLR(optimizer, partial(schedule, warmup_steps=round(WARMUP * args.steps)))
    generator = torch.Generator().manual_seed(0)
    order, position, spent = torch.randperm(len(images), generator=generator), 0, 0.0
    method.train()
    for step in range(args.steps):
        if args.view_sizes:
            set_view_size(method, args.view_sizes[step * len(args.view_sizes) // args.steps])
        if position + batch > len(images):  # a new epoch: a new order
            order, position = torch.randperm(len(images), generator=generator), 0
        rows, position = order[position : position + batch], position + batch
        start = time.perf_counter()
        loss, _ = method({"image": images[rows], "label": labels[rows]}, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        spent += time.perf_counter() - start
    encoder = method_representation(method, "backbone").eval()
    test_images, test_labels = data.test.images, data.test.labels
    bank = extract_features(encoder, images, batch_size=512, device="cpu")
    queries = extract_features(
        encoder, test_images[: args.test_images], batch_size=512, device="cpu"
    )
    top1 = knn_scores(
        bank,
        labels,
        queries,
        test_labels[: args.test_images],
        num_classes=10,
        k=200,
        temperature=0.1,
    )["top1"]
    result = {"tag": args.tag, "steps": args.steps, "train_seconds": round(spent, 1)}
    result.update({"knn_top1": round(top1, 4), "set": args.set, "view_sizes": args.view_sizes})
    print(json.dumps(result))
    args.jsonl.parent.mkdir(parents=True, exist_ok=True)
    with args.jsonl.open("a") as out:
        out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
