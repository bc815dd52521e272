"""SimCLR's two views of a batch: our batched `SimCLRViews` against lightly's ``SimCLRTransform``
through a ``DataLoader`` (0 and 2 worker processes), on the same CIFAR-10 images.

* ``contrastlab``: two calls of ``SimCLRViews(SimCLRAugment(blur_p=0), 32)`` on the uint8 batch
  (what a training step does; the output is float32 in [0, 1], normalised inside the encoder);
* ``lightly``: ``SimCLRTransform(input_size=32, gaussian_blur=0.0)`` per PIL image in a dataset,
  batched by a ``DataLoader`` (the loop of lightly's SimCLR example; its output is normalised).

Rounds alternate the sides; medians are reported, with each as a share of a training step when
``--step-json`` (from ``benchmarks/train_step.py``) is there. Writes ``--json``. With workers, a
batch is ready when asked for (they worked while the main process waited between calls): that is
their best case; in training they share the cores with the step, which `train_step.py
--workers 2` measures.
Run: ``python benchmarks/views_lightly.py`` (needs lightly, see train_step.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from contrastlab.augment import SimCLRAugment, SimCLRViews
from machine import describe, summary
from train_step import cifar_arguments, cifar_images, lightly_batches


def ours(images: torch.Tensor) -> Callable[[], Any]:
    views = SimCLRViews(SimCLRAugment(blur_p=0.0), image_size=32)
    generator = torch.Generator().manual_seed(0)
    return lambda: (views(images, generator), views(images, generator))


def lightly(pil: list[Image.Image], batch: int, workers: int) -> Callable[[], Any]:
    batches = lightly_batches(pil, batch, workers)
    return lambda: next(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=10)
    cifar_arguments(parser)
    parser.add_argument(
        "--step-json", type=Path, default=Path("benchmarks/results/train_step.json")
    )
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/views_lightly.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    pixels = cifar_images(args.batch * 4, args.data)
    images = torch.from_numpy(pixels[: args.batch]).permute(0, 3, 1, 2).contiguous()
    pil = [Image.fromarray(p) for p in pixels]
    sides = {
        "contrastlab": ours(images),
        "lightly, 0 workers": lightly(pil, args.batch, 0),
        "lightly, 2 workers": lightly(pil, args.batch, 2),
    }
    for make in sides.values():  # warm-up (starts the workers)
        make()
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, make in sides.items():
            start = time.perf_counter()
            make()
            seconds[name].append(time.perf_counter() - start)
    step = None
    if args.step_json.is_file():
        step = json.loads(args.step_json.read_text())["sides"]["contrastlab"]["step_s"]
    found = describe()
    result: dict[str, Any] = {"machine": found, "batch": args.batch, "sides": {}}
    print(f"{summary(found)}\ntwo views of {args.batch} images")
    print(f"{'side':<20}{'ms/batch':>10}{'images/s':>10}{'x ours':>8}{'% of step':>11}")
    base = statistics.median(seconds["contrastlab"])
    for name, times in seconds.items():
        median = statistics.median(times)
        share = "" if step is None else f"{100 * median / step:10.1f}%"
        row = {"ms": 1e3 * median, "images_per_s": args.batch / median, "x_ours": median / base}
        result["sides"][name] = row
        print(f"{name:<20}{row['ms']:10.1f}{row['images_per_s']:10.0f}{median / base:7.1f}x{share}")
    result["step_s"] = step
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
