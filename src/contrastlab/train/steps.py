"""Where each optimiser step falls: the sample order of an epoch, the batch of each process, and
the place of a checkpoint's step within its epoch (checked before a resume runs)."""

from __future__ import annotations

import numpy as np
import torch

from contrastlab.core.errors import CheckpointError, ConfigError
from contrastlab.data import ImageTensors

__all__ = ["check_batch_size", "check_position", "epoch_order", "local_batch_size"]


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of one epoch: a permutation that depends only on (seed, epoch)."""
    state = np.random.SeedSequence([seed, epoch]).generate_state(2, dtype=np.uint32)
    generator = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
    return torch.randperm(n, generator=generator)


def check_batch_size(batch_size: int, data: ImageTensors) -> None:
    """The batch must fit the training images (a contrastive step needs 2 images at least, so
    one image cannot be helped by a smaller batch)."""
    if len(data) < 2:
        raise ConfigError(
            f"training needs at least 2 images, and {data.name} has {len(data)}; "
            "add images to the training data"
        )
    if batch_size > len(data):
        raise ConfigError(
            f"train.batch_size {batch_size} is larger than the {len(data)} training images of "
            f"{data.name}; use --batch-size {len(data)} or less"
        )


def local_batch_size(batch_size: int, world: int) -> int:
    """Each process's share of the global ``train.batch_size``; it must divide evenly."""
    if batch_size % world:
        raise ConfigError(
            f"train.batch_size {batch_size} is the global batch, split over {world} processes; "
            f"use a multiple of {world} (e.g. --batch-size {batch_size // world * world or world})"
        )
    return batch_size // world


def check_position(epoch: int, step: int, steps_per_epoch: int, where: object) -> None:
    """After ``epoch`` whole epochs and ``step`` steps, the next step is number
    ``step - epoch x steps_per_epoch`` of the next epoch, which must exist. Anything else means
    the epochs of ``where`` (a checkpoint) had another length (another batch size or number of
    images): resuming would run an epoch of no steps, or repeat or skip part of the data."""
    first = step - epoch * steps_per_epoch
    if not 0 <= first < steps_per_epoch:
        raise CheckpointError(
            f"{where} is at step {step} after {epoch} epochs, which does not fit epochs of "
            f"{steps_per_epoch} steps: it was made with another train.batch_size or other "
            "training data than this run has now; resume with those, or start a new run"
        )
