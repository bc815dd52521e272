"""The one training loop: optimiser and schedule, AMP, gradient clipping, a NaN guard, progress,
metrics.csv + TensorBoard, and an atomic checkpoint at the end of every epoch.

Every source of randomness the loop uses is owned and checkpointed, so a resumed run is
bit-identical on the CPU to one that never stopped: the sample order of an epoch is a permutation
drawn from a generator seeded by (seed, epoch), and the views come from ``self.generator``, whose
state is saved.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from contrastlab.config.load import recipe_to_dict
from contrastlab.config.schema import Recipe
from contrastlab.data import ImageTensors
from contrastlab.errors import CheckpointError, ConfigError, ContrastlabError
from contrastlab.models import channels_last_allowed, use_channels_last
from contrastlab.train.checkpoint import save_checkpoint
from contrastlab.train.logs import write_metrics_csv
from contrastlab.train.optim import build_optimizer, build_scheduler
from contrastlab.train.pairs import TemporalPairs
from contrastlab.train.rundir import RunDir

CHECKPOINT_FORMAT = 1


class NonFiniteLossError(ContrastlabError):
    """The loss became NaN or infinite; the run stops before the bad step is applied."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"train.device is {name!r} but no CUDA device is available (use cpu or auto)"
        )
    return device


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of one epoch: a permutation that depends only on (seed, epoch)."""
    state = np.random.SeedSequence([seed, epoch]).generate_state(2, dtype=np.uint32)
    generator = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
    return torch.randperm(n, generator=generator)


def check_batch_size(batch_size: int, data: ImageTensors) -> None:
    if batch_size > len(data):
        raise ConfigError(
            f"train.batch_size {batch_size} is larger than the {len(data)} training images of "
            f"{data.name}; use --batch-size {len(data)} or less"
        )


class Trainer:
    def __init__(
        self,
        recipe: Recipe,
        method: nn.Module,
        data: ImageTensors,
        run: RunDir,
        device: torch.device,
        pairs: TemporalPairs | None = None,
    ):
        self.recipe, self.method, self.data, self.run, self.device = (
            recipe,
            method,
            data,
            run,
            device,
        )
        self.pairs = pairs  # temporal positives: each row's partner frame, as batch["partner"]
        train = recipe.train
        check_batch_size(train.batch_size, data)
        self.steps_per_epoch = len(data) // train.batch_size
        method.to(device)
        if channels_last_allowed(train.channels_last, device):
            use_channels_last(method)
        self.optimizer = build_optimizer(recipe.optim, method, train.batch_size)
        self.scheduler = build_scheduler(
            recipe.optim, self.optimizer, self.steps_per_epoch, train.epochs
        )
        self.scaler = torch.amp.GradScaler(device.type, enabled=train.precision == "fp16")
        self.generator = torch.Generator().manual_seed(train.seed)
        self.epoch = 0  # epochs completed
        self.step = 0  # optimiser steps taken
        self.train_seconds = 0.0
        self.history: list[dict[str, float | int]] = []

    # -- state ------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "method": self.recipe.method.name,
            "recipe": recipe_to_dict(self.recipe),
            "model": self.method.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "generator": self.generator.get_state(),
            "epoch": self.epoch,
            "step": self.step,
            "train_seconds": self.train_seconds,
            "history": self.history,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        try:
            self.method.load_state_dict(state["model"])
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise CheckpointError(f"checkpoint does not fit this recipe's model: {first}") from None
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.train_seconds = float(state["train_seconds"])
        self.history = list(state["history"])

    # -- loop -------------------------------------------------------------------------------------

    def fit(self, stop_after: int | None = None) -> None:
        """Train until ``train.epochs`` are done (or ``stop_after`` epochs in all, resumably)."""
        from torch.utils.tensorboard import SummaryWriter  # slow import, only needed here

        last = (
            self.recipe.train.epochs
            if stop_after is None
            else min(stop_after, self.recipe.train.epochs)
        )
        with SummaryWriter(str(self.run.tensorboard), purge_step=self.step) as writer:
            while self.epoch < last:
                row = self._run_epoch(writer)
                self.epoch += 1
                self.history.append(row)
                save_checkpoint(self.run.checkpoint, self.state_dict())
                write_metrics_csv(self.run.metrics_csv, self.history)
                for key, value in row.items():
                    if key != "epoch":
                        writer.add_scalar(f"epoch/{key}", value, self.epoch)

    def _run_epoch(self, writer: Any) -> dict[str, float | int]:
        train = self.recipe.train
        order = epoch_order(len(self.data), train.seed, self.epoch)
        self.method.train()
        sums: dict[str, float] = {}
        start = time.perf_counter()
        bar = tqdm(
            total=self.steps_per_epoch,
            desc=f"epoch {self.epoch + 1}/{train.epochs}",
            disable=not train.progress,
            unit="step",
            dynamic_ncols=True,
        )
        with bar:
            for index in range(self.steps_per_epoch):
                rows = order[index * train.batch_size : (index + 1) * train.batch_size]
                metrics = self._train_step(rows)
                for key, value in metrics.items():
                    sums[key] = sums.get(key, 0.0) + value
                if self.step % train.log_every == 0:
                    for key, value in metrics.items():
                        writer.add_scalar(f"train/{key}", value, self.step)
                elapsed = time.perf_counter() - start
                bar.set_postfix(
                    loss=f"{metrics['loss']:.4f}",
                    lr=f"{metrics['lr']:.3g}",
                    img_s=f"{(index + 1) * train.batch_size / elapsed:.0f}",
                )
                bar.update()
        seconds = time.perf_counter() - start
        self.train_seconds += seconds
        row: dict[str, float | int] = {"epoch": self.epoch + 1, "step": self.step}
        row.update({key: total / self.steps_per_epoch for key, total in sums.items()})
        row["lr"] = metrics["lr"]
        row["images_per_s"] = self.steps_per_epoch * train.batch_size / seconds
        row["seconds"] = seconds
        if train.progress:
            tqdm.write(
                f"epoch {self.epoch + 1}/{train.epochs}: loss {row['loss']:.4f}, "
                f"{row['images_per_s']:.0f} img/s, {seconds:.1f}s"
            )
        return row

    def _train_step(self, rows: torch.Tensor) -> dict[str, float]:
        batch = {
            "image": self.data.images[rows].to(self.device, non_blocking=True),
            "label": self.data.labels[rows].to(self.device, non_blocking=True),
        }
        if self.pairs is not None:
            partner = self.pairs(rows, self.generator)
            batch["partner"] = self.data.images[partner].to(self.device, non_blocking=True)
        lr = self.optimizer.param_groups[0]["lr"]
        with self._autocast():
            loss, metrics = self.method(batch, self.generator)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"loss is {loss.item()} at epoch {self.epoch + 1}, step {self.step + 1}; "
                f"nothing was saved after the last good checkpoint ({self._last_good()}). "
                "Lower optim.lr or set optim.clip_grad_norm, then resume or restart."
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        clip = self.recipe.optim.clip_grad_norm
        if clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.method.parameters(), clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        out = {"loss": loss.item(), "lr": lr}
        out.update({key: float(value) for key, value in metrics.items()})
        return out

    def _autocast(self) -> AbstractContextManager[Any]:
        precision = self.recipe.train.precision
        if precision == "fp32":
            return nullcontext()
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _last_good(self) -> str:
        if self.run.checkpoint.exists():
            return f"{self.run.checkpoint}, epoch {self.epoch}"
        return "none yet"
