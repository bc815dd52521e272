"""Fitting a bundled CPU recipe to a user's own images (`contrastlab train --data DIR`).

A bundled recipe is tuned on its built-in data; on a user's images `contrastlab train` adapts
what it must, says what it did, and never touches a key the user pinned (``--set KEY=VALUE`` or
a short flag such as ``--batch-size``):

- **names**: the run, its report and its figures are named after the method and the data
  (``simclr_my_images``), not after the built-in recipe (`named_for_data`, before any decoding);
- **grey images** (every training image has R = G = B, or one channel): saturation, hue and the
  greyscale conversion do nothing to them, so the colour distortion would be left at brightness
  and contrast alone. They get a grey-image augmentation instead (`GREY_AUGMENT`): moderate
  brightness and contrast changes and a Gaussian blur, which change what grey pixels carry
  without destroying the shape;
- **mirror images that are no images of the data** (a mirrored ``7`` is no digit): horizontal
  flips are turned off when mirrored images lie clearly further from the data than the images
  themselves (`contrastlab.data.mirror.mirror_ratio` above `MIRROR_LIMIT`; CIFAR-10 1.00 keeps
  them, MNIST digits 1.49 lose them). On 5,000 MNIST test digits (``--budget 5m``, kNN on the
  other 5,000) flips off gave kNN top-1 0.905 and 1-NN 0.944, flips on 0.851 and 0.885;
- **colour images**: SimCLR's CIFAR-10 colour distortion (`COLOUR_AUGMENT`: jitter strength
  0.5, greyscale p = 0.2) instead of the CPU recipes' stronger one, which is tuned to the
  built-in shapes (whose colour is a shortcut to be suppressed). On CIFAR-10 (50,000 training
  images, 400 steps of the default recipe, kNN on 5,000 test images) the stronger distortion gave
  0.290 and SimCLR's 0.353;
- **progressive resolution** (`progressive_sizes`), under ``--budget`` (where time, not steps, is
  what a run spends) and for images of 32 pixels and more: views at half
  the side for the first half of the steps, three quarters for the next quarter, full size for
  the last (Kocyigit et al. 2023). At equal steps (400, the settings above) it cost 0.02 of kNN
  top-1 (0.337 against 0.356) and half the time (183 s against 373 s);
- **small data**: the batch becomes the largest power of two at most one eighth of the images
  (not below 16), so that an epoch has several steps; and the run takes at least `MIN_STEPS`
  optimiser steps, however few images there are: a step count, not an epoch count, decides
  how long a run trains (`fit_to_data`, after decoding; under ``--budget`` the budget decides).

`--no-adapt` keeps the recipe exactly as given. The decisions are printed, kept in
``metrics.json`` (``adaptations``) and listed in the report.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from contrastlab.config.schema import Recipe
from contrastlab.data import ImageTensors
from contrastlab.data.mirror import mirror_ratio

__all__ = [
    "COLOUR_AUGMENT",
    "GREY_AUGMENT",
    "MIN_BATCH",
    "MIN_STEPS",
    "MIRROR_LIMIT",
    "Adapted",
    "data_stem",
    "fit_to_data",
    "is_greyscale",
    "named_for_data",
    "progressive_sizes",
    "small_data_batch",
]

MIN_STEPS = 600  # the default recipe's 16 epochs of 39 steps on its 10,000 shapes
MIN_BATCH = 16  # 30 negatives per positive pair: below this NT-Xent has too few to contrast
# brightness and contrast factors in [0.6, 1.4] (jitter strength 0.5, SimCLR's CIFAR-10 value),
# a blur on half the views; greyscale off (it does nothing to grey images)
GREY_AUGMENT: dict[str, Any] = {"jitter_strength": 0.5, "gray_p": 0.0, "blur_p": 0.5}
COLOUR_AUGMENT: dict[str, Any] = {"jitter_strength": 0.5, "gray_p": 0.2}  # SimCLR, CIFAR-10
# mirrored images 10% further from the data than the images are from each other: flips off
MIRROR_LIMIT = 1.1
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip", ".npz", ".gz", ".npy")


@dataclass
class Adapted:
    """The recipe after fitting it to the data, and one sentence per change made."""

    recipe: Recipe
    notes: list[str] = field(default_factory=list)


def data_stem(source: str) -> str:
    """A short, path-safe name for a data source: ``../x/my_images/`` -> ``my_images``,
    ``cifar10-train-jpg.tar.gz`` -> ``cifar10-train-jpg``."""
    name = Path(source.rstrip("/\\")).name or "data"
    for suffix in _ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    clean = re.sub(r"[^A-Za-z0-9_.+-]+", "_", name).strip("._+-")
    return (clean or "data")[:80]


def named_for_data(recipe: Recipe, source: str, pinned: Collection[str] = ()) -> Recipe:
    """The recipe renamed ``METHOD_DATA`` and described as trained on ``source`` (unless the
    user pinned ``name``/``description``)."""
    name = recipe.name if "name" in pinned else f"{recipe.method.name}_{data_stem(source)}"
    description = recipe.description
    if "description" not in pinned:
        description = (
            f"{recipe.method.name} on {source}, from the bundled CPU recipe {recipe.name} "
            "(adapted to the data where the run's report says so)."
        )
    return dataclasses.replace(recipe, name=name, description=description)


def is_greyscale(images: torch.Tensor) -> bool:
    """True when every image has one channel, or three equal ones (R = G = B everywhere)."""
    if images.shape[1] == 1:
        return True
    if images.shape[1] != 3:
        return False
    return bool(torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 1], images[:, 2]))


def small_data_batch(n_images: int, batch_size: int) -> int:
    """The largest power of two at most ``n_images / 8`` (at least `MIN_BATCH`), never above
    ``batch_size`` nor above the images there are."""
    fitted = 2 ** math.floor(math.log2(max(n_images / 8, 1)))
    return max(2, min(batch_size, max(fitted, MIN_BATCH), n_images))


def _fitted_augment(recipe: Recipe, data: ImageTensors) -> tuple[Any, str | None]:
    """The augmentation for grey or colour images, and what changed (None: nothing)."""
    if is_greyscale(data.images):
        change, note = (
            GREY_AUGMENT,
            (
                "the images are grey (R = G = B): augmentation set to brightness and contrast "
                f"(jitter strength {GREY_AUGMENT['jitter_strength']}) with a blur on "
                f"{GREY_AUGMENT['blur_p']:.0%} of views and no greyscale conversion"
            ),
        )
    else:
        change, note = (
            COLOUR_AUGMENT,
            (
                "colour images: SimCLR's CIFAR-10 colour distortion (jitter strength "
                f"{COLOUR_AUGMENT['jitter_strength']}, greyscale p {COLOUR_AUGMENT['gray_p']}) "
                "instead of the recipe's, tuned to the built-in shapes"
            ),
        )
    if all(getattr(recipe.augment, key) == value for key, value in change.items()):
        return recipe.augment, None
    return dataclasses.replace(recipe.augment, **change), note


def _fitted_flips(augment: Any, data: ImageTensors) -> tuple[Any, str | None]:
    """Flips off when mirror images are no images of the data (`MIRROR_LIMIT`)."""
    if augment.flip_p == 0:
        return augment, None
    ratio = mirror_ratio(data.images)
    if ratio <= MIRROR_LIMIT:
        return augment, None
    note = (
        f"mirror images lie {ratio:.2f}x further from the data than the images do from each "
        f"other (median nearest-neighbour distance; above {MIRROR_LIMIT}): horizontal flips off"
    )
    return dataclasses.replace(augment, flip_p=0.0), note


def progressive_sizes(image_size: int) -> tuple[tuple[float, int], ...]:
    """``train.view_sizes`` for a run at ``image_size``: 1/2, 3/4, then the full side (never
    below 16 px); empty below 32 px, where smaller views lose too much."""
    if image_size < 32:
        return ()
    half, three_quarters = max(16, image_size // 2), max(16, image_size * 3 // 4)
    return ((0.0, half), (0.5, three_quarters), (0.75, image_size))


def fit_to_data(
    recipe: Recipe, data: ImageTensors, pinned: Collection[str] = (), *, budgeted: bool = False
) -> Adapted:
    """`Adapted`: the augmentation for grey or colour images (flips only where mirror images
    look like the data), a batch and a length that let small data train, and (``budgeted``:
    under ``--budget``) progressive resolution."""
    notes: list[str] = []
    augment = recipe.augment
    if not any(key.startswith("augment.") for key in pinned):
        augment, note = _fitted_augment(recipe, data)
        notes += [note] if note else []
        augment, note = _fitted_flips(augment, data)
        notes += [note] if note else []
    train = recipe.train
    batch = train.batch_size
    if "train.batch_size" not in pinned:
        batch = small_data_batch(len(data), train.batch_size)
        if batch != train.batch_size:
            notes.append(
                f"batch {train.batch_size} -> {batch} for {len(data)} training images "
                "(at most one eighth of them, a power of two)"
            )
    epochs = train.epochs
    per_epoch = len(data) // batch
    if not budgeted and "train.epochs" not in pinned and epochs * per_epoch < MIN_STEPS:
        epochs = math.ceil(MIN_STEPS / per_epoch)
        notes.append(
            f"epochs {train.epochs} -> {epochs}: at least {MIN_STEPS} steps "
            f"({per_epoch} per epoch), so that small data trains"
        )
    sizes = train.view_sizes
    if budgeted and "train.view_sizes" not in pinned and not sizes:
        sizes = progressive_sizes(recipe.data.image_size)
        if sizes:
            stages = ", ".join(f"{side} px from {start:.0%}" for start, side in sizes)
            notes.append(f"progressive resolution: views of {stages} of the steps")
    train = dataclasses.replace(train, batch_size=batch, epochs=epochs, view_sizes=sizes)
    return Adapted(dataclasses.replace(recipe, augment=augment, train=train), notes)
