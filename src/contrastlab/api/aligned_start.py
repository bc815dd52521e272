"""Early training from a first layer sampled aligned with the data (Maennel et al. 2020).

The sampling experiment of Maennel et al. 2020 (recalled, [MEM]), as we run it: re-sample a fresh
network's first convolution from N(0, U diag(f(lambda)) U^T), aligned with the patch covariance
Sigma_x = U diag(lambda) U^T of its training images, rescale it to the norm of the default draw it
replaces, and train on real labels beside the same network left at its default draw.

:func:`early_training` trains one such network for a few epochs with `train_recipe`, through
its ``prepare`` hook (`contrastlab train` has no option for it: the aligned draw needs the
training images, which a recipe's model does not see). With the same recipe and seed the two starts
differ only in the first layer: every other parameter, the sample order and the views are the
same, so a comparison over seeds is paired.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from contrastlab.analysis.covariance import (
    Mapping,
    aligned_init_,
    misalignment,
    weight_covariance,
)
from contrastlab.api.analyze_covariance import stem_patch_covariance
from contrastlab.api.training import train_recipe
from contrastlab.config.schema import Recipe
from contrastlab.core.errors import ContrastlabError
from contrastlab.data import ImageTensors
from contrastlab.methods import method_representation

__all__ = ["STEMS", "Stem", "align_first_layer_", "early_training"]

Stem = Literal["default", "aligned"]
STEMS: tuple[str, ...] = ("default", "aligned")


def align_first_layer_(
    method: nn.Module,
    recipe: Recipe,
    images: ImageTensors,
    mapping: Mapping | None,
    *,
    seed: int,
) -> dict[str, Any]:
    """Re-sample the first convolution of ``method``'s backbone aligned with ``images``, in place.

    The patch covariance is that of ``images`` normalised as the encoder does (the recipe's
    mean and std), with the layer's kernel and stride; ``mapping`` is f (None: f(lambda) =
    lambda, see `aligned_init_`); the draw comes from ``seed`` and is rescaled to the Frobenius
    norm of the weight it replaces. Returns the layer's name, that norm and the layer's
    misalignment before and after."""
    backbone = method_representation(method, "backbone")
    name, conv, data_cov = stem_patch_covariance(backbone, images.images, recipe, seed)
    norm = float(conv.weight.detach().norm())
    before = misalignment(weight_covariance(conv.weight.detach()), data_cov)
    generator = torch.Generator().manual_seed(seed)
    aligned_init_(conv, data_cov, mapping, generator=generator, norm=norm)
    after = misalignment(weight_covariance(conv.weight.detach()), data_cov)
    return {"layer": name, "norm": norm, "misalignment_before": before, "misalignment": after}


def early_training(
    recipe: Recipe,
    *,
    stem: Stem,
    epochs: int,
    run_dir: Path,
    mapping: Mapping | None = None,
) -> dict[str, Any]:
    """Train ``recipe`` for ``epochs`` epochs from the ``default`` or an ``aligned`` first layer.

    The run's checkpoint and metrics.csv go to ``run_dir``. Returns the start (``stem``, and for
    an aligned one what `align_first_layer_` reports) and ``history``: the trainer's row per
    epoch (``loss``, and the method's own figures, e.g. ce's ``train_top1``)."""
    if stem not in STEMS:
        raise ContrastlabError(f"stem must be one of {', '.join(STEMS)}, got {stem!r}")
    if not 1 <= epochs <= recipe.train.epochs:
        raise ContrastlabError(f"epochs must be in 1..{recipe.train.epochs}, got {epochs}")

    def prepare(method: nn.Module, recipe: Recipe, images: ImageTensors) -> dict[str, Any]:
        start: dict[str, Any] = {"stem": stem}
        if stem == "aligned":
            start.update(
                align_first_layer_(method, recipe, images, mapping, seed=recipe.train.seed)
            )
        return start

    result = train_recipe(recipe, run_dir, stop_after=epochs, evaluate=False, prepare=prepare)
    return {**result.prepared, "history": result.history}
