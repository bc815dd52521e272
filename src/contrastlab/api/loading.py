"""Loading a trained model for the commands that read one (`eval`, `embed`): a run directory or a
checkpoint, its recipe with the command's overrides, the method with its weights, the data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from contrastlab.config import apply_overrides, build_recipe
from contrastlab.config.schema import Recipe
from contrastlab.core.errors import CheckpointError
from contrastlab.methods import build_method, method_representation
from contrastlab.models.layout_check import check_channels_last
from contrastlab.train.checkpoint import load_checkpoint, load_weights
from contrastlab.train.rundir import RunDir
from contrastlab.train.trainer import resolve_device


@dataclass
class LoadedModel:
    """A trained method, ready to evaluate: where it came from and what it was trained with."""

    checkpoint: Path
    run: RunDir | None  # None when the target was a bare checkpoint file
    epoch: int
    recipe: Recipe  # the checkpoint's recipe with the command's overrides applied
    method: nn.Module  # weights loaded, on the CPU
    device: torch.device

    def representation(self, method: nn.Module | None = None) -> nn.Module:
        """The feature module named by ``eval.representation`` of ``method`` (default: the
        trained one), on the device."""
        chosen = self.method if method is None else method
        return method_representation(chosen, self.recipe.eval.representation).to(self.device)

    def random_twin(self) -> nn.Module:
        """A fresh method from the same recipe and seed: the trained one's starting point."""
        return build_method(self.recipe)


def checkpoint_path(target: Path) -> tuple[Path, RunDir | None]:
    """A run directory's ``checkpoints/last.pt``, or the checkpoint file itself."""
    if target.is_dir():
        run = RunDir.open(target)
        if not run.checkpoint.is_file():
            raise CheckpointError(f"{target} has no checkpoint yet (checkpoints/last.pt)")
        return run.checkpoint, run
    if target.is_file():
        return target, None
    raise CheckpointError(f"no run directory or checkpoint at {target}")


def load_model(target: str | Path, overrides: list[tuple[str, Any]]) -> LoadedModel:
    """Load ``target`` (a run directory or a checkpoint) with ``overrides`` applied to its recipe.

    A bad ``eval.representation`` fails here, before any data is read."""
    path, run = checkpoint_path(Path(target))
    state = load_checkpoint(path, needs=("model", "recipe", "epoch"))
    if not isinstance(state["recipe"], dict):
        raise CheckpointError(f"{path}: its 'recipe' entry is not a recipe (a mapping of keys)")
    keys = [key for key, _ in overrides]
    if "data.source" in keys and not any(key.startswith("data.options") for key in keys):
        # the run's source options (shapes' n_train, ...) do not apply to other data
        overrides = [("data.options", {}), *overrides]
    recipe = build_recipe(apply_overrides(state["recipe"], overrides))
    method = build_method(recipe)
    method_representation(method, recipe.eval.representation)
    load_weights(method, state["model"], f"{path} does not fit its own recipe")
    device = resolve_device(recipe.train.device)
    check_channels_last(recipe.train.channels_last, method, device)  # fine-tuning trains it
    return LoadedModel(path, run, int(state["epoch"]), recipe, method, device)
