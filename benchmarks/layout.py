"""Channels-last against the default (contiguous) memory layout on the CPU: one SimCLR step as
``contrastlab train`` takes it (``Trainer._train_step``), for ResNet-18s of several widths.

The recipe is `train_step.py`'s (CIFAR stem, 512-512-128 head, NT-Xent at tau 0.5, SGD, no blur)
with ``model.width`` from ``--widths``; ``train.channels_last`` is false for one side and true
for the other. Rounds alternate the sides; medians are reported. Writes ``--json``.
Run: ``python benchmarks/layout.py`` (no peers needed; CIFAR-10 JPEGs from ../shared/datasets,
or noise without them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import torch

from machine import describe, summary
from train_step import Setup, Trainer, cifar_arguments, cifar_images, time_sides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=float, nargs="+", default=[0.125, 0.25, 0.5, 1.0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3, help="timed steps per side")
    cifar_arguments(parser)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/layout.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    found = describe()
    pixels = cifar_images(args.batch, args.data)
    images = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()
    result: dict[str, Any] = {"machine": found, "batch": args.batch, "widths": {}}
    print(f"{summary(found)}\nSimCLR step, batch {args.batch}, median of {args.rounds}")
    print(f"{'width':>7}{'contiguous s':>14}{'channels-last s':>17}{'speed-up':>10}")
    for width in args.widths:
        with tempfile.TemporaryDirectory() as workdir:
            sides = {
                layout: Trainer(images, Setup(channels_last=layout, width=width), Path(workdir))
                for layout in (False, True)
            }
            laps = time_sides(sides, args.rounds)
        plain, last = (statistics.median(row["step"] for row in laps[side]) for side in sides)
        result["widths"][str(width)] = {
            "contiguous_s": plain,
            "channels_last_s": last,
            "speedup": plain / last,
        }
        print(f"{width:7.3f}{plain:14.3f}{last:17.3f}{plain / last:9.2f}x", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
