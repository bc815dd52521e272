"""SimCLR (Chen et al., ICML 2020): two augmented views per image, a projection MLP, NT-Xent."""

from __future__ import annotations

import torch
from torch import nn

from contrastlab.augment import SimCLRViews
from contrastlab.config.schema import Recipe
from contrastlab.losses import nt_xent
from contrastlab.methods.base import Batch, StepOutput
from contrastlab.methods.parts import build_encoder_and_head, build_views, pair_metrics
from contrastlab.models.encoder import Encoder


class SimCLR(nn.Module):
    """loss = NT-Xent(g(f(v1)), g(f(v2))) for two views v1, v2 of each image in the batch.

    Both views go through the encoder in one forward pass, so BatchNorm statistics are computed over
    the 2N views together, as in SimCLR's own code.
    """

    def __init__(self, encoder: Encoder, head: nn.Module, views: SimCLRViews, temperature: float):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.views = views
        self.temperature = temperature

    def forward(self, batch: Batch, generator: torch.Generator) -> StepOutput:
        images = batch["image"]
        both = torch.cat([self.views(images, generator), self.views(images, generator)])
        z_a, z_b = self.head(self.encoder(both)).chunk(2)
        loss = nt_xent(z_a, z_b, self.temperature)
        return loss, pair_metrics(z_a, z_b)


def build_simclr(recipe: Recipe) -> SimCLR:
    encoder, head = build_encoder_and_head(recipe)
    return SimCLR(encoder, head, build_views(recipe), recipe.method.temperature)
