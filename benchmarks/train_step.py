"""One SimCLR training step: contrastlab against a plain lightly loop, and both against the
machine's bound.

Both sides train the same network (torchvision's ResNet-18 with the CIFAR stem: a 3x3 stride-1 first
convolution and no max-pool; a 2-layer 512-512-128 projection MLP) on the same batch of 32x32
images with NT-Xent (tau 0.5) and the same SGD (lr 0.06, momentum 0.9, weight decay 5e-4):

* ``contrastlab``: `SimCLRViews` on the uint8 batch, the method's encoder and head on both views in
  one pass, `nt_xent`, backward, step: the step's components, timed phase by phase;
* ``trainer``: the step as ``contrastlab train`` takes it (``Trainer._train_step``: the same, plus
  the non-finite guard and the learning-rate schedule), timed as a whole; its images/s against
  lightly's is the headline ratio;
* ``lightly``: lightly's ``SimCLRTransform(input_size=32, gaussian_blur=0.0)`` on PIL images in a
  ``DataLoader`` (``--workers``), ``SimCLRProjectionHead``, ``NTXentLoss``: the loop of lightly's
  SimCLR example.

Each step is split into views (lightly: the DataLoader's next batch), forward, loss, backward and
optimiser. The bound is the step's FLOPs (``torch.utils.flop_counter``, forward and backward of the
network) at the best measured rate of square fp32 (or bf16) products. Rounds alternate the sides,
so background load hits all alike; medians are reported, with the machine, in ``--json``.
``--channels-last`` lays out ours channels-last (``train.channels_last: true``),
``--lightly-channels-last`` lightly's too; ``--precision bf16`` runs every forward under bf16
autocast (losses in float32), refused on a CPU without native bf16 kernels.

Run: ``python benchmarks/train_step.py`` (needs lightly: ``pip install --no-deps lightly
lightning-utilities``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from contrastlab.config import build_recipe
from contrastlab.config.schema import Recipe
from contrastlab.losses import nt_xent
from contrastlab.methods import build_method
from contrastlab.methods.simclr import SimCLR
from contrastlab.models import use_channels_last
from machine import describe, summary

PHASES = ("views", "forward", "loss", "backward", "optimiser")
LR, MOMENTUM, WEIGHT_DECAY, TAU = 0.06, 0.9, 5e-4, 0.5
Timings = dict[str, float]


def cifar_resnet18() -> nn.Module:
    from torchvision.models import resnet18

    net = resnet18()
    net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    net.maxpool = nn.Identity()
    net.fc = nn.Identity()
    return net


def sgd(module: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(module.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)


@dataclass(frozen=True)
class Setup:
    """How the sides run: precision, our memory layout, device, ``torch.compile``, our width."""

    precision: str = "fp32"
    channels_last: bool = False  # ours (train.channels_last: true)
    device: str = "cpu"
    compile: bool = False  # the networks of every side, `nn.Module.compile`
    width: float = 1.0  # our ResNet-18's (benchmarks/layout.py); lightly's is always 1

    def autocast(self) -> AbstractContextManager[Any]:
        if self.precision == "bf16":
            return torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16)
        return nullcontext()

    def sync(self) -> None:
        if torch.device(self.device).type == "cuda":
            torch.cuda.synchronize()


def simclr_recipe(batch: int, setup: Setup) -> Recipe:
    """Our recipe for the benchmark's network, loss, optimiser and batch."""
    return build_recipe(
        {
            "data": {"image_size": 32},
            "augment": {"blur_p": 0.0},
            "model": {"backbone": "resnet18", "width": setup.width, "cifar_stem": True},
            "method": {"name": "simclr", "temperature": TAU},
            "optim": {"lr": LR, "momentum": MOMENTUM, "weight_decay": WEIGHT_DECAY},
            "train": {
                "batch_size": batch,
                "precision": setup.precision,
                "channels_last": setup.channels_last,
                "device": setup.device,
                "progress": False,
            },
        }
    )


class Ours:
    """contrastlab's SimCLR step, phase by phase (what `SimCLR.forward` and the trainer do)."""

    def __init__(self, images: torch.Tensor, setup: Setup):
        method = build_method(simclr_recipe(len(images), setup))
        assert isinstance(method, SimCLR)
        self.method = method.to(setup.device)
        if setup.channels_last:
            use_channels_last(self.method)  # what the trainer does with train.channels_last
        if setup.compile:
            self.method.encoder.compile()
            self.method.head.compile()
        self.optimizer = sgd(self.method)
        self.images, self.setup = images.to(setup.device), setup
        self.generator = torch.Generator().manual_seed(0)

    def network(self) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: self.method.head(self.method.encoder(x))

    def step(self) -> Timings:
        method, clock = self.method, Clock(self.setup)
        views = method.views
        v = torch.cat([views(self.images, self.generator), views(self.images, self.generator)])
        clock.lap("views")
        with self.setup.autocast():
            z_a, z_b = method.head(method.encoder(v)).chunk(2)
        clock.lap("forward")
        loss = nt_xent(z_a.float(), z_b.float(), TAU)  # the loss in float32, outside autocast
        clock.lap("loss")
        return clock.update(loss, self.optimizer)


class Trainer:
    """The same step as `contrastlab train` takes it: ``Trainer._train_step`` (views, forward,
    loss, backward, the non-finite guard, the optimiser and its schedule), timed as a whole."""

    def __init__(self, images: torch.Tensor, setup: Setup, workdir: Path):
        from contrastlab.data import ImageTensors
        from contrastlab.train.rundir import RunDir
        from contrastlab.train.trainer import Trainer as Loop

        recipe = simclr_recipe(len(images), setup)
        data = ImageTensors(
            images=images,
            labels=torch.zeros(len(images), dtype=torch.long),
            meta={},
            classes=[],
            name="benchmark batch",
        )
        method = build_method(recipe)
        assert isinstance(method, SimCLR)
        self.loop = Loop(recipe, method, data, RunDir(workdir), torch.device(setup.device))
        if setup.compile:
            method.encoder.compile()
            method.head.compile()
        self.rows, self.setup = torch.arange(len(images)), setup

    def step(self) -> Timings:
        start = time.perf_counter()
        self.loop._train_step(self.rows)
        self.setup.sync()
        return {"step": time.perf_counter() - start}


class Lightly:
    """The loop of lightly's SimCLR example on the same network, batch and optimiser."""

    def __init__(
        self,
        pil: list[Image.Image],
        batch: int,
        workers: int,
        setup: Setup,
        channels_last: bool = False,
    ):
        from lightly.loss import NTXentLoss
        from lightly.models.modules import SimCLRProjectionHead

        self.backbone = cifar_resnet18()
        self.head = SimCLRProjectionHead(512, 512, 128)
        self.model = nn.Sequential(self.backbone, self.head)
        self.criterion = NTXentLoss(temperature=TAU)
        self.optimizer = sgd(self.model)
        self.batches = lightly_batches(pil, batch, workers)
        self.setup = setup
        self.layout = torch.channels_last if channels_last else torch.contiguous_format
        self.model.to(setup.device).to(memory_format=self.layout)
        if setup.compile:
            self.model.compile()

    def network(self) -> Callable[[torch.Tensor], torch.Tensor]:
        return self.model

    def step(self) -> Timings:
        clock = Clock(self.setup)
        (x0, x1), _ = next(self.batches)
        x = torch.cat([x0, x1]).to(self.setup.device, non_blocking=True)
        clock.lap("views")
        with self.setup.autocast():
            z0, z1 = self.model(x.contiguous(memory_format=self.layout)).chunk(2)
        clock.lap("forward")
        loss = self.criterion(z0.float(), z1.float())
        clock.lap("loss")
        return clock.update(loss, self.optimizer)


def lightly_batches(pil: list[Image.Image], batch: int, workers: int) -> Iterator[Any]:
    """Endless batches of ([view 1, view 2], labels): lightly's ``SimCLRTransform(input_size=32,
    gaussian_blur=0.0)`` per image in a shuffling ``DataLoader`` with ``workers`` processes."""
    from lightly.transforms import SimCLRTransform

    transform = SimCLRTransform(input_size=32, gaussian_blur=0.0)
    loader = torch.utils.data.DataLoader(
        _Transformed([(image, 0) for image in pil], transform),
        batch_size=batch,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        persistent_workers=workers > 0,
    )
    while True:
        yield from loader


class _Transformed(torch.utils.data.Dataset[Any]):
    def __init__(self, items: list[tuple[Image.Image, int]], transform: Any):
        self.items, self.transform = items, transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Any:
        image, label = self.items[index]
        return self.transform(image), label


class Clock:
    def __init__(self, setup: Setup) -> None:
        self.laps: Timings = {}
        self.setup = setup
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        self.setup.sync()  # CUDA runs asynchronously: a lap ends when its kernels have
        now = time.perf_counter()
        self.laps[name] = now - self.last
        self.last = now

    def update(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> Timings:
        """Backward and optimiser step, timed; all the step's laps."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.lap("backward")
        optimizer.step()
        self.lap("optimiser")
        return self.laps


def step_flops(network: Callable[[torch.Tensor], torch.Tensor], views: int) -> int:
    """FLOPs of forward + backward of ``network`` on ``views`` 32x32 images."""
    x = torch.randn(views, 3, 32, 32)
    with FlopCounterMode(display=False) as counter:
        network(x).square().mean().backward()
    return int(counter.get_total_flops())


def matmul_rate(dtype: torch.dtype, setup: Setup, repeats: int = 20) -> float:
    """The best FLOP/s of a square product in ``dtype`` (2048 on the CPU, 8192 on a GPU)."""
    size = 2048 if setup.device == "cpu" else 8192
    a, b = (torch.randn(size, size, dtype=dtype, device=setup.device) for _ in range(2))
    best = float("inf")
    for _ in range(repeats + 1):
        setup.sync()
        start = time.perf_counter()
        torch.mm(a, b)
        setup.sync()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def cifar_images(n: int, archive: Path) -> np.ndarray:
    """The first ``n`` JPEGs of the CIFAR-10 archive (N, 32, 32, 3) uint8, or noise without it."""
    found: list[np.ndarray] = []
    if archive.is_file():
        with tarfile.open(archive, "r|*") as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".jpg"):
                    data = tar.extractfile(member)
                    if data is not None:
                        found.append(np.asarray(Image.open(data).convert("RGB")))
                if len(found) == n:
                    return np.stack(found)
    return np.random.default_rng(0).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def cifar_arguments(parser: argparse.ArgumentParser) -> None:
    """``--threads`` and ``--data`` (the CIFAR-10 JPEG archive), as every step benchmark takes."""
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    default_data = Path("../shared/datasets/cifar10-jpg/cifar10-train-jpg.tar.gz")
    parser.add_argument("--data", type=Path, default=default_data, help="CIFAR-10 JPEG archive")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3, help="timed steps per side")
    parser.add_argument("--workers", type=int, default=0, help="lightly's DataLoader workers")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--channels-last", action="store_true", help="ours in channels-last")
    parser.add_argument(
        "--lightly-channels-last", action="store_true", help="lightly's network too"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--compile", action="store_true", help="torch.compile every network")
    cifar_arguments(parser)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/train_step.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    found = describe(args.device)
    if args.precision == "bf16" and args.device == "cpu" and not found["native_bf16"]:
        parser.error(f"--precision bf16: this CPU has no native bf16 kernels ({summary(found)})")
    pixels = cifar_images(args.batch * (args.rounds + 1), args.data)
    images = torch.from_numpy(pixels[: args.batch]).permute(0, 3, 1, 2).contiguous()
    setup = Setup(args.precision, args.channels_last, args.device, args.compile)
    with tempfile.TemporaryDirectory() as workdir:
        sides: dict[str, Any] = {
            "contrastlab": Ours(images, setup),
            "trainer": Trainer(images, setup, Path(workdir)),
            "lightly": Lightly(
                [Image.fromarray(p) for p in pixels],
                args.batch,
                args.workers,
                setup,
                args.lightly_channels_last,
            ),
        }
        laps = time_sides(sides, args.rounds)
    flops = step_flops(Ours(images[:2], Setup()).network(), 2 * args.batch)  # eager, on the CPU
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    rate = matmul_rate(dtype, setup)
    bound = rate / (flops / args.batch)  # images/s if every FLOP ran at the matmul rate
    result: dict[str, Any] = {
        "machine": found,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "precision": args.precision,
        "channels_last": args.channels_last,
        "lightly_channels_last": args.lightly_channels_last,
        "lightly_workers": args.workers,
        "compile": args.compile,
        "step_gflop": flops / 1e9,
        "matmul_gflops": rate / 1e9,
        "bound_images_per_s": bound,
        "sides": {},
    }
    print(
        f"{summary(found)}\nbatch {args.batch}, {args.precision}; step {flops / 1e9:.1f} GFLOP, "
        f"matmul {rate / 1e9:.1f} GFLOP/s, bound {bound:.1f} images/s"
    )
    print(f"{'side':<12}" + "".join(f"{p:>10}" for p in PHASES) + f"{'step s':>9}{'img/s':>8}")
    print(f"{'':<12}{'(% of bound)':>70}")
    for name, rows in laps.items():
        medians = {p: statistics.median(row[p] for row in rows) for p in PHASES if p in rows[0]}
        step = statistics.median(sum(row.values()) for row in rows)
        speed = args.batch / step
        result["sides"][name] = {"phases_s": medians, "step_s": step, "images_per_s": speed}
        cells = "".join(f"{medians[p]:10.3f}" if p in medians else f"{'-':>10}" for p in PHASES)
        print(f"{name:<12}{cells}{step:9.2f}{speed:8.1f}  ({100 * speed / bound:.0f}%)")
    speeds = {name: side["images_per_s"] for name, side in result["sides"].items()}
    result["speedup_vs_lightly"] = speeds["trainer"] / speeds["lightly"]
    result["components_speedup_vs_lightly"] = speeds["contrastlab"] / speeds["lightly"]
    print(
        f"contrastlab Trainer / lightly: {result['speedup_vs_lightly']:.2f}x "
        f"(the step's components alone: {result['components_speedup_vs_lightly']:.2f}x)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


def time_sides(sides: dict[str, Any], rounds: int) -> dict[str, list[Timings]]:
    """One warm-up step per side (allocator, DataLoader workers, kernels), then ``rounds``
    rounds taking one step of each side in turn, so background load hits all alike."""
    for side in sides.values():
        side.step()
    laps: dict[str, list[Timings]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, side in sides.items():
            laps[name].append(side.step())
    return laps


if __name__ == "__main__":
    main()
