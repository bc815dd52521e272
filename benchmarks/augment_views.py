"""Throughput of SimCLR's augmentation: our batched `SimCLRViews` against kornia and torchvision.

All three make SimCLR views (Chen et al., ICML 2020) of one uint8 batch, with the CIFAR-10 recipe:
random resized crop (scale 0.08-1, bilinear), horizontal flip p=0.5, colour jitter (0.4, 0.4, 0.4,
0.1) with p=0.8, greyscale p=0.2; output float32 in [0, 1].

* ``contrastlab``: ``SimCLRViews(SimCLRAugment(), size)(images, generator)`` (sample + apply);
* ``kornia``: ``kornia.augmentation`` modules in an ``nn.Sequential`` on ``images.float() / 255``;
* ``torchvision``: a ``transforms.v2.Compose`` applied image by image in a Python loop (converting
  to float first, so all three work on the same float images), then stacked.

The timings are interleaved (one call of each per round) so that background load hits all three
alike; the table reports the median over rounds. Run: ``python benchmarks/augment_views.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import kornia.augmentation as K
import torch
from torch import nn
from torchvision.transforms import v2

from contrastlab.augment import SimCLRAugment, SimCLRViews


def contrastlab_views(size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    views = SimCLRViews(SimCLRAugment(), image_size=size)
    generator = torch.Generator().manual_seed(0)
    return lambda images: views(images, generator)


def kornia_views(size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    pipeline = nn.Sequential(
        K.RandomResizedCrop((size, size), scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)),
        K.RandomHorizontalFlip(p=0.5),
        K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8),
        K.RandomGrayscale(p=0.2),
    )
    return lambda images: pipeline(images.float().div_(255.0))


def torchvision_views(size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    pipeline = v2.Compose(
        [
            v2.ToDtype(torch.float32, scale=True),
            v2.RandomResizedCrop(size, scale=(0.08, 1.0), antialias=False),
            v2.RandomHorizontalFlip(p=0.5),
            v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
            v2.RandomGrayscale(p=0.2),
        ]
    )
    return lambda images: torch.stack([pipeline(image) for image in images])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-torchvision", action="store_true", help="skip the slow loop")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    images = torch.randint(0, 256, (args.batch, 3, args.size, args.size), dtype=torch.uint8)
    images = images.to(device)
    methods = {"contrastlab": contrastlab_views(args.size), "kornia": kornia_views(args.size)}
    if not args.no_torchvision:
        methods["torchvision (loop)"] = torchvision_views(args.size)

    def timed(fn: Callable[[torch.Tensor], torch.Tensor]) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn(images)
        if device.type == "cuda":
            torch.cuda.synchronize()
        assert out.shape == (args.batch, 3, args.size, args.size), out.shape
        return time.perf_counter() - start

    for fn in methods.values():  # warm-up
        timed(fn)
        timed(fn)
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(args.rounds):
        for name, fn in methods.items():
            seconds[name].append(timed(fn))

    print(
        f"batch ({args.batch}, 3, {args.size}, {args.size}) uint8 on {device}, "
        f"{torch.get_num_threads()} threads, median of {args.rounds} interleaved rounds"
    )
    ours = statistics.median(seconds["contrastlab"])
    print(f"{'method':<20} {'ms/batch':>9} {'min ms':>9} {'images/s':>10} {'contrastlab x':>14}")
    for name, times in seconds.items():
        median = statistics.median(times)
        print(
            f"{name:<20} {median * 1e3:9.1f} {min(times) * 1e3:9.1f} "
            f"{args.batch / median:10.0f} {median / ours:13.1f}x"
        )


if __name__ == "__main__":
    main()
