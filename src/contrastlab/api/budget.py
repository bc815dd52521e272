"""``contrastlab train --budget 10m``: a run sized to a wall-clock budget, fixed as a step count.

The run measures its own step (optimiser steps of a throwaway copy of the network, on the real
data, batch and device, with the loop's own step function, for about `MEASURE_SHARE` of the
budget: a few steps fluctuate by 20% on a shared CPU), divides the budget by it
and fixes the length as the whole epochs that fit (at least one: the budget is an upper bound,
by the measurement; with many steps per epoch up to an epoch of it is left unused); the
schedule's warm-up and cosine span exactly those steps. The length is written into the run's
``config.yaml`` like any other setting, so a ``--resume`` continues the same schedule and a
rerun from that file trains the same steps; the measurement itself is kept under ``budget`` in
``metrics.json``.

The budget covers training only: decoding the data before and the evaluation after come on top
(both are printed with their own times).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from contrastlab.config.schema import Recipe
from contrastlab.core.distributed import rank_and_world
from contrastlab.core.errors import ConfigError
from contrastlab.data import ImageTensors
from contrastlab.methods.parts import set_view_size
from contrastlab.train.rundir import RunDir
from contrastlab.train.trainer import Trainer

__all__ = ["BUDGET_LIMITS", "Budget", "parse_budget", "sized_to_budget"]

BUDGET_LIMITS = (10.0, 7 * 24 * 3600.0)  # seconds: below 10 s the measurement is most of it
WARM_STEPS = 2  # first steps at each view size allocate and pick kernels: not timed
# a fresh network's first steps are slow for longer (Adam's state, the allocator, the caches):
# on CIFAR-10 at 16 px the 2nd to 8th steps took 0.21 to 0.16 s, later ones 0.15 to 0.16 s
WARM_UP_STEPS = 6
TIMED_STEPS = 6  # at least, per view size
# the timing spends about this share of the budget (split over the view sizes by their shares),
# at most MAX_TIMED_STEPS steps per size: with 6 steps per size, a 30-minute run on CIFAR-10
# measured 0.279 s per step and then took 0.241 s (25.9 of 30 minutes used)
MEASURE_SHARE = 0.02
MAX_TIMED_STEPS = 500
_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|m|min|h)\s*")


@dataclass
class Budget:
    """What a budget decided: the measured seconds per step and the length fixed from them."""

    seconds: float  # the budget asked for
    step_seconds: float  # measured (the mean of the timed steps)
    steps: int  # epochs x steps per epoch
    epochs: int
    steps_per_epoch: int
    measured_steps: int  # timed steps, all view sizes together

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def sentence(self) -> str:
        minutes = self.steps * self.step_seconds / 60
        return (
            f"--budget {_duration(self.seconds)}: {self.step_seconds:.3f} s per step "
            f"(measured over {self.measured_steps} steps) -> {self.epochs} epochs of "
            f"{self.steps_per_epoch} steps = {self.steps} steps, about {minutes:.1f} min of "
            "training (evaluation after)"
        )


def parse_budget(text: str) -> float:
    """Seconds in a duration such as ``90s``, ``10m``, ``1.5h`` (``sec``, ``min`` also)."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ConfigError(f"--budget must be a duration such as 90s, 10m or 1.5h, got {text!r}")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    low, high = BUDGET_LIMITS
    if not low <= seconds <= high:
        raise ConfigError(
            f"--budget must be between {low:.0f} s and 7 days, got {text!r} ({seconds:g} s)"
        )
    return seconds


def sized_to_budget(
    recipe: Recipe, method: nn.Module, data: ImageTensors, device: torch.device, seconds: float
) -> tuple[Recipe, Budget]:
    """``recipe`` with ``train.epochs`` fixed to the whole epochs that fit in ``seconds``."""
    step_seconds, measured = _measure_step(recipe, method, data, device, MEASURE_SHARE * seconds)
    per_epoch = len(data) // recipe.train.batch_size
    epochs = max(1, math.floor(seconds / step_seconds / per_epoch))
    budget = Budget(seconds, step_seconds, epochs * per_epoch, epochs, per_epoch, measured)
    train = dataclasses.replace(recipe.train, epochs=epochs)
    return dataclasses.replace(recipe, train=train), budget


def _measure_step(
    recipe: Recipe, method: nn.Module, data: ImageTensors, device: torch.device, seconds: float
) -> tuple[float, int]:
    """Mean seconds per step of the loop's own step on a copy of ``method``, and the steps
    timed: after `WARM_UP_STEPS` untimed steps at the first view size, each view size of
    ``train.view_sizes`` is timed (`_timed_steps`) for about its share of ``seconds``, and the
    means are weighted by those shares; under torchrun the slowest rank's, so all agree."""
    train = dataclasses.replace(recipe.train, progress=False, on_nonfinite="skip", view_sizes=())
    stages = recipe.train.view_sizes or ((0.0, recipe.data.image_size),)
    ends = [start for start, _ in stages[1:]] + [1.0]
    batch = recipe.train.batch_size
    with tempfile.TemporaryDirectory(prefix="contrastlab-budget-") as scratch:
        quiet = dataclasses.replace(recipe, train=train)
        trainer = Trainer(quiet, copy.deepcopy(method), data, RunDir(Path(scratch)), device)
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
        set_view_size(trainer.method, stages[0][1])
        for index in range(WARM_UP_STEPS):
            trainer._train_step(_rows(order, index, batch))
        step, measured = 0.0, 0
        for (start, side), end in zip(stages, ends, strict=True):
            set_view_size(trainer.method, side)
            share = end - start
            mean, count = _timed_steps(trainer, order, batch, device, share * seconds)
            step, measured = step + share * mean, measured + count
    step = _largest_over_ranks(step, device)
    if not math.isfinite(step) or step <= 0:
        raise ConfigError(f"--budget: could not measure a training step (got {step} s)")
    return step, measured


def _timed_steps(
    trainer: Trainer, order: torch.Tensor, batch: int, device: torch.device, seconds: float
) -> tuple[float, int]:
    """Mean seconds of the steps timed after `WARM_STEPS` untimed ones, and how many: first
    `TIMED_STEPS`, then as many more as their mean says fill ``seconds`` (at most
    `MAX_TIMED_STEPS` in all). Under torchrun the ranks agree on the count first (the largest),
    since every step is a collective."""
    for index in range(WARM_STEPS):
        trainer._train_step(_rows(order, index, batch))
    times = [
        _step_seconds(trainer, order, WARM_STEPS + i, batch, device) for i in range(TIMED_STEPS)
    ]
    wanted = min(MAX_TIMED_STEPS, max(TIMED_STEPS, math.ceil(seconds / statistics.fmean(times))))
    wanted = int(_largest_over_ranks(wanted, device))
    for index in range(TIMED_STEPS, wanted):
        times.append(_step_seconds(trainer, order, WARM_STEPS + index, batch, device))
    return statistics.fmean(times), len(times)


def _largest_over_ranks(value: float, device: torch.device) -> float:
    """``value``'s largest over the torchrun ranks (itself in one process): what every rank
    then uses, so that they agree. float64 holds any step count exactly."""
    if rank_and_world()[1] == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.MAX)
    return float(tensor.item())


def _step_seconds(
    trainer: Trainer, order: torch.Tensor, index: int, batch: int, device: torch.device
) -> float:
    _synchronize(device)
    began = time.perf_counter()
    trainer._train_step(_rows(order, index, batch))
    _synchronize(device)
    return time.perf_counter() - began


def _rows(order: torch.Tensor, index: int, batch: int) -> torch.Tensor:
    """The ``index``-th batch of ``order``, wrapping round."""
    start = index * batch % max(1, len(order) - batch + 1)
    return order[start : start + batch]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 360 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 6 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"
