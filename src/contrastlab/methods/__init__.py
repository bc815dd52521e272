"""Self-supervised methods; `build_method` makes the one a recipe names."""

from __future__ import annotations

import torch

from contrastlab.augment import SimCLRViews
from contrastlab.config.schema import Recipe
from contrastlab.methods.base import Batch, StepOutput, method_encoder
from contrastlab.methods.simclr import SimCLR
from contrastlab.models import build_encoder, projection_mlp

__all__ = ["Batch", "SimCLR", "StepOutput", "build_method", "method_encoder"]


def build_method(recipe: Recipe, *, seed: int | None = None) -> SimCLR:
    """The recipe's method, freshly initialised (from ``seed``, by default the recipe's)."""
    torch.manual_seed(recipe.train.seed if seed is None else seed)
    encoder = build_encoder(recipe.model, recipe.data)
    m = recipe.model
    head = projection_mlp(
        encoder.feature_dim,
        hidden_dim=m.head_hidden_dim or encoder.feature_dim,
        out_dim=m.head_out_dim,
        layers=m.head_layers,
        batchnorm=m.head_batchnorm,
    )
    views = SimCLRViews(recipe.augment, recipe.data.image_size)
    return SimCLR(encoder, head, views, recipe.method.temperature)
