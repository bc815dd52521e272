"""Self-supervised (and supervised baseline) methods, registered by name.

`build_method` makes the one a recipe names (``method.name``); every method is an ``nn.Module``
with an ``encoder`` and ``loss, metrics = method(batch, generator)`` (see `methods.base`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from contrastlab.config.schema import Recipe
from contrastlab.methods.base import (
    Batch,
    StepOutput,
    method_encoder,
    method_representation,
    method_representations,
)
from contrastlab.methods.clae import AdversarialViews, build_clae
from contrastlab.methods.iic import IIC, build_iic
from contrastlab.methods.looc import LOOC, build_looc
from contrastlab.methods.moco import MoCo, build_moco, build_temporal
from contrastlab.methods.simclr import SimCLR, build_simclr
from contrastlab.methods.supcon import CrossEntropy, SupCon, build_cross_entropy, build_supcon

__all__ = [
    "IIC",
    "LOOC",
    "METHODS",
    "AdversarialViews",
    "Batch",
    "CrossEntropy",
    "MoCo",
    "SimCLR",
    "StepOutput",
    "SupCon",
    "build_method",
    "method_encoder",
    "method_representation",
    "method_representations",
]

METHODS: dict[str, Callable[[Recipe], nn.Module]] = {
    "simclr": build_simclr,
    "moco": build_moco,
    "supcon": build_supcon,
    "ce": build_cross_entropy,
    "iic": build_iic,
    "clae": build_clae,
    "looc": build_looc,
    "temporal": build_temporal,
}


def build_method(recipe: Recipe, *, seed: int | None = None) -> nn.Module:
    """The recipe's method, freshly initialised (from ``seed``, by default the recipe's)."""
    torch.manual_seed(recipe.train.seed if seed is None else seed)
    return METHODS[recipe.method.name](recipe)
