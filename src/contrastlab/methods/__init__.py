"""Self-supervised (and supervised baseline) methods, registered in
`contrastlab.core.method_registry` (one entry each, naming its builder here).

`build_method` makes the one a recipe names (``method.name``); every method is an ``nn.Module``
with an ``encoder`` and ``loss, metrics = method(batch, generator)`` (see `methods.base`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import torch
from torch import nn

from contrastlab.config.schema import Recipe
from contrastlab.core.method_registry import entry
from contrastlab.methods.base import (
    Batch,
    StepOutput,
    method_encoder,
    method_representation,
    method_representations,
)
from contrastlab.methods.clae import AdversarialViews
from contrastlab.methods.iic import IIC
from contrastlab.methods.looc import LOOC
from contrastlab.methods.moco import MoCo
from contrastlab.methods.simclr import SimCLR
from contrastlab.methods.supcon import CrossEntropy, SupCon

__all__ = [
    "IIC",
    "LOOC",
    "AdversarialViews",
    "Batch",
    "CrossEntropy",
    "MoCo",
    "SimCLR",
    "StepOutput",
    "SupCon",
    "build_method",
    "builder",
    "method_encoder",
    "method_representation",
    "method_representations",
]


def builder(name: str) -> Callable[[Recipe], nn.Module]:
    """The function that makes method ``name``: its registry entry's ``builder``
    (`contrastlab.core.method_registry`), a function of a module of this package."""
    module, function = entry(name).builder.split(":")
    made: Callable[[Recipe], nn.Module] = getattr(
        importlib.import_module(f"contrastlab.methods.{module}"), function
    )
    return made


def build_method(recipe: Recipe, *, seed: int | None = None) -> nn.Module:
    """The recipe's method, freshly initialised (from ``seed``, by default the recipe's)."""
    torch.manual_seed(recipe.train.seed if seed is None else seed)
    return builder(recipe.method.name)(recipe)
