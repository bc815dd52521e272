"""The one training loop: optimiser and schedule, AMP, gradient clipping, a NaN guard, progress,
metrics.csv + TensorBoard, and an atomic checkpoint at the end of every epoch (and, with
``train.checkpoint_every``, within epochs).

Under torch.distributed (`contrastlab train` under torchrun) ``train.batch_size`` is the global
batch: each step's rows are split into consecutive equal blocks, one per rank, the method runs
wrapped in DistributedDataParallel inside `sharded_step` (so losses gather negatives, views are
drawn for the global batch, `SyncBatchNorm` pools), metrics are averaged over the ranks and only
rank 0 writes. Every rank holds the same generator, so each step is the one-process step.

Every source of randomness the loop uses is owned and checkpointed, so a resumed run is
bit-identical on the CPU to one that never stopped: the sample order of an epoch is a permutation
drawn from a generator seeded by (seed, epoch), and the views come from ``self.generator``, whose
state is saved (with the process-wide generators, `train.rng`).

A NaN or infinite loss or gradient never reaches the weights: with ``train.on_nonfinite=stop`` the
run stops naming the step and the last good checkpoint; with ``skip`` the step is left out (the
schedule still advances) and counted. A checkpoint whose parameters or optimiser state are not
finite is never written over a good one.
"""

from __future__ import annotations

import math
import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from contrastlab.config.load import recipe_to_dict
from contrastlab.config.schema import Recipe
from contrastlab.core.distributed import rank_and_world, sharded_step
from contrastlab.core.errors import CheckpointError, ConfigError
from contrastlab.data import ImageTensors
from contrastlab.methods.parts import set_view_size
from contrastlab.models import channels_last_allowed, use_channels_last
from contrastlab.models.sync_bn import convert_sync_bn
from contrastlab.optim.optimizers import build_optimizer, build_scheduler
from contrastlab.train.checkpoint import load_weights, require_entries, save_checkpoint
from contrastlab.train.guard import (
    NonFiniteError,
    first_nonfinite,
    forward_state,
    gradient_norm,
    restore_forward_state,
)
from contrastlab.train.logs import write_metrics_csv
from contrastlab.train.pairs import TemporalPairs
from contrastlab.train.rng import capture_rng, restore_rng, seed_host_rng
from contrastlab.train.rundir import RunDir
from contrastlab.train.steps import (  # re-exported: commands import them from here
    check_batch_size,
    check_position,
    epoch_order,
    local_batch_size,
)

CHECKPOINT_FORMAT = 1
# what `load_state_dict` reads (later additions, such as "rng", are optional)
RESUME_ENTRIES = (
    *("model", "optimizer", "scheduler", "scaler", "generator"),
    *("epoch", "step", "train_seconds", "history"),
)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"train.device is {name!r} but no CUDA device is available (use cpu or auto)"
        )
    return device


def wrap_ddp(method: nn.Module, device: torch.device, *, find_unused: bool) -> nn.Module:
    """``method`` in DistributedDataParallel when a process group with more than one rank
    exists (gradients averaged over ranks), else itself.

    Buffers are not broadcast before each forward: the ones that must agree (MoCo's queue, fed
    with every rank's keys) already do, and rank 0's batch-norm statistics, the ones it saves,
    are its own either way; broadcasting would resend a 65536-key queue every step.
    """
    if rank_and_world()[1] == 1:
        return method
    ids = [device.index if device.index is not None else 0] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(
        method, device_ids=ids, find_unused_parameters=find_unused, broadcast_buffers=False
    )


def mean_over_ranks(metrics: dict[str, torch.Tensor]) -> dict[str, float]:
    """Scalar metrics averaged over the ranks (one all-reduce), as floats."""
    keys = list(metrics)
    values = torch.stack([torch.as_tensor(metrics[k]).detach().float().cpu() for k in keys])
    _, world = rank_and_world()
    if world > 1:
        device = next(iter(metrics.values())).device
        values = values.to(device)
        torch.distributed.all_reduce(values)
        values = values.cpu() / world
    return dict(zip(keys, values.tolist(), strict=True))


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
        self.rank, self.world = rank_and_world()
        self.local_batch = local_batch_size(train.batch_size, self.world)
        self.steps_per_epoch = len(data) // train.batch_size
        if train.sync_bn:
            try:
                method = convert_sync_bn(method)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            self.method = method
        method.to(device)
        if channels_last_allowed(train.channels_last, device):
            use_channels_last(method)
        self.model = wrap_ddp(method, device, find_unused=recipe.method.facts.unused_parameters)
        self.optimizer = build_optimizer(recipe.optim, method, train.batch_size)
        self.scheduler = build_scheduler(
            recipe.optim, self.optimizer, self.steps_per_epoch, train.epochs
        )
        self.scaler = torch.amp.GradScaler(device.type, enabled=train.precision == "fp16")
        self.generator = torch.Generator().manual_seed(train.seed)
        seed_host_rng(train.seed)
        self.epoch = 0  # epochs completed
        self.step = 0  # optimiser steps taken
        self.train_seconds = 0.0
        self.history: list[dict[str, float | int]] = []
        self.partial: dict[str, float] = {}  # sums of the epoch in progress (mid-epoch resume)
        self.skipped = 0  # steps left out for a non-finite loss or gradient (on_nonfinite=skip)
        self.skips_in_a_row = 0
        self.saved_step: int | None = None  # the step of the checkpoint on disk, if any

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
            "rng": capture_rng(),
            "epoch": self.epoch,
            "step": self.step,
            "train_seconds": self.train_seconds,
            "history": self.history,
            "train_images": len(self.data),  # a resume checks the data has not changed
            "partial": self.partial,
            "skipped_steps": self.skipped,
            "skips_in_a_row": self.skips_in_a_row,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        require_entries(state, RESUME_ENTRIES, self.run.checkpoint)  # not a KeyError below
        load_weights(self.method, state["model"], "checkpoint does not fit this recipe's model")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        check_position(self.epoch, self.step, self.steps_per_epoch, self.run.checkpoint)
        self.train_seconds = float(state["train_seconds"])
        self.history = list(state["history"])
        self.partial = dict(state.get("partial", {}))
        if "rng" in state:  # checkpoints from before the global generators were saved lack it
            restore_rng(state["rng"])
        self.skipped = int(state.get("skipped_steps", 0))
        self.skips_in_a_row = int(state.get("skips_in_a_row", 0))
        self.saved_step = self.step

    # -- loop -------------------------------------------------------------------------------------

    def fit(self, stop_after: int | None = None) -> None:
        """Train until ``train.epochs`` are done (or ``stop_after`` epochs in all, resumably)."""
        from torch.utils.tensorboard import SummaryWriter  # slow import, only needed here

        last = (
            self.recipe.train.epochs
            if stop_after is None
            else min(stop_after, self.recipe.train.epochs)
        )
        writes = self.rank == 0  # one writer: rank 0 (all ranks hold the same state)
        logdir = str(self.run.tensorboard)
        with SummaryWriter(logdir, purge_step=self.step) if writes else nullcontext() as writer:
            while self.epoch < last:
                row = self._run_epoch(writer)
                self.epoch += 1
                self.history.append(row)
                self.partial = {}
                self._save()
                if writer is not None:
                    write_metrics_csv(self.run.metrics_csv, self.history)
                    for key, value in row.items():
                        if key != "epoch":
                            writer.add_scalar(f"epoch/{key}", value, self.epoch)

    def _save(self) -> None:
        """Checkpoint (rank 0), unless a parameter or optimiser state is not finite: such a
        checkpoint would replace a good one, so the run stops instead."""
        bad = first_nonfinite(self.method.named_parameters(), self.optimizer.state_dict()["state"])
        if bad is not None:
            raise NonFiniteError(
                f"{bad} is not finite after step {self.step}; the checkpoint was not written "
                f"and the last good one is kept ({self._last_good()}). "
                "Lower optim.lr or set optim.clip_grad_norm, then resume or restart."
            )
        if self.rank == 0:
            try:
                save_checkpoint(self.run.checkpoint, self.state_dict())
            except OSError as exc:
                raise CheckpointError(
                    f"could not write the checkpoint {self.run.checkpoint}: "
                    f"{exc.strerror or exc}; the previous one is intact ({self._last_good()}); "
                    "make room or fix the directory, then: "
                    f"contrastlab train --resume {self.run.path}"
                ) from None
        self.saved_step = self.step

    def _run_epoch(self, writer: Any) -> dict[str, float | int]:
        train = self.recipe.train
        order = epoch_order(len(self.data), train.seed, self.epoch)
        self.method.train()
        check_position(self.epoch, self.step, self.steps_per_epoch, "the loop state")
        first = self.step - self.epoch * self.steps_per_epoch  # > 0 when resumed mid-epoch
        sums = self.partial
        seconds = sums.pop("_seconds", 0.0)
        start = time.perf_counter()
        bar = tqdm(
            total=self.steps_per_epoch,
            initial=first,
            desc=f"epoch {self.epoch + 1}/{train.epochs}",
            disable=not (train.progress and writer is not None),
            unit="step",
            dynamic_ncols=True,
        )
        with bar:
            for index in range(first, self.steps_per_epoch):
                rows = order[index * train.batch_size : (index + 1) * train.batch_size]
                lr = self.optimizer.param_groups[0]["lr"]
                stepped = self._train_step(rows)
                metrics = {"skipped_steps": 1.0, "lr": lr} if stepped is None else stepped
                for key, value in metrics.items():
                    sums[key] = sums.get(key, 0.0) + value
                if writer is not None and self.step % train.log_every == 0:
                    for key, value in metrics.items():
                        writer.add_scalar(f"train/{key}", value, self.step)
                elapsed = time.perf_counter() - start
                bar.set_postfix(
                    loss=f"{metrics.get('loss', math.nan):.4f}",
                    lr=f"{metrics['lr']:.3g}",
                    img_s=f"{(index + 1 - first) * train.batch_size / elapsed:.0f}",
                )
                bar.update()
                every = train.checkpoint_every
                if every and self.step % every == 0 and index + 1 < self.steps_per_epoch:
                    self.partial = {**sums, "_seconds": seconds + time.perf_counter() - start}
                    self._save()
        seconds += time.perf_counter() - start
        self.train_seconds += seconds
        row: dict[str, float | int] = {"epoch": self.epoch + 1, "step": self.step}
        skipped = int(sums.pop("skipped_steps", 0))
        taken = self.steps_per_epoch - skipped
        row.update({key: total / taken if taken else math.nan for key, total in sums.items()})
        row["lr"] = metrics["lr"]
        if skipped:
            row["skipped_steps"] = skipped
        row["images_per_s"] = (self.steps_per_epoch - first) * train.batch_size / seconds
        row["seconds"] = seconds
        if train.progress and writer is not None:
            tqdm.write(
                f"epoch {self.epoch + 1}/{train.epochs}: loss {row['loss']:.4f}, "
                f"{row['images_per_s']:.0f} img/s, {seconds:.1f}s"
            )
        return row

    def _train_step(self, rows: torch.Tensor) -> dict[str, float] | None:
        """One optimiser step on the global batch ``rows`` (this rank takes its block); None
        when a non-finite loss or gradient left it out (``train.on_nonfinite=skip``)."""
        mine = slice(self.rank * self.local_batch, (self.rank + 1) * self.local_batch)
        local = rows[mine]
        batch = {
            "image": self.data.images[local].to(self.device, non_blocking=True),
            "label": self.data.labels[local].to(self.device, non_blocking=True),
        }
        if self.pairs is not None:  # partners drawn for the global batch, as in one process
            partner = self.pairs(rows, self.generator)[mine]
            batch["partner"] = self.data.images[partner].to(self.device, non_blocking=True)
        lr = self.optimizer.param_groups[0]["lr"]
        self._view_size()
        skip = self.recipe.train.on_nonfinite == "skip"
        undo = forward_state(self.method) if skip else None  # what a skipped forward changes
        with sharded_step():
            with self._autocast():
                loss, metrics = self.model(batch, self.generator)
            values = mean_over_ranks({"loss": loss.detach(), **metrics})
            if not math.isfinite(values["loss"]):
                self._nonfinite(f"the loss is {values['loss']}", undo)
                return None
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
        clip = self.recipe.optim.clip_grad_norm
        norm: float | None = None  # of all gradients, before clipping
        if clip is not None:
            self.scaler.unscale_(self.optimizer)
            norm = float(nn.utils.clip_grad_norm_(self.method.parameters(), clip))
        if not self.scaler.is_enabled():  # fp16's scaler skips inf gradients itself
            if norm is None:
                norm = gradient_norm(self.method.parameters())
            if not math.isfinite(norm):  # gradients are already averaged over the ranks
                self._nonfinite(f"the gradient norm is {norm}", undo)
                return None
        self.skips_in_a_row = 0
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        return {"loss": values.pop("loss"), "lr": lr, **values}

    def _view_size(self) -> None:
        """Progressive resolution: the views' side for this step (``train.view_sizes``), a
        function of the step alone, so a resumed run makes the same views."""
        train = self.recipe.train
        if not train.view_sizes:
            return
        total = self.steps_per_epoch * train.epochs
        size = train.view_size_at(self.step, total, self.recipe.data.image_size)
        set_view_size(self.method, size)

    def _autocast(self) -> AbstractContextManager[Any]:
        precision = self.recipe.train.precision
        if precision == "fp32":
            return nullcontext()
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _nonfinite(self, what: str, undo: dict[str, torch.Tensor] | None) -> None:
        """Stop, or (``on_nonfinite=skip``) leave this step out: no update (the forward's own
        changes, a queue or a momentum encoder, are undone), the schedule goes on."""
        train = self.recipe.train
        where = f"at epoch {self.epoch + 1}, step {self.step + 1}"
        self.optimizer.zero_grad(set_to_none=True)
        if undo is not None and self.skips_in_a_row + 1 < train.max_skips_in_a_row:
            restore_forward_state(self.method, undo)
            self.skipped += 1
            self.skips_in_a_row += 1
            self.scheduler.step()
            self.step += 1
            return None
        why = (
            f"{train.max_skips_in_a_row} steps in a row were not finite (train.max_skips_in_a_row)"
            if train.on_nonfinite == "skip"
            else "stopped before the step was applied (train.on_nonfinite=stop)"
        )
        raise NonFiniteError(
            f"{what} {where}: {why}; the last good checkpoint is {self._last_good()}. "
            "Lower optim.lr or set optim.clip_grad_norm, then resume or restart, "
            "or leave such batches out with --set train.on_nonfinite=skip."
        )

    def _last_good(self) -> str:
        if self.saved_step is not None and self.run.checkpoint.exists():
            return f"{self.run.checkpoint} (step {self.saved_step})"
        return "none: no checkpoint was written yet"
