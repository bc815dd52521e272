"""SimCLR (Chen et al., ICML 2020): two augmented views per image, a projection MLP, NT-Xent."""

from __future__ import annotations

import torch
from torch import nn

from contrastlab.augment import SimCLRViews
from contrastlab.losses import nt_xent
from contrastlab.methods.base import Batch, StepOutput
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
        return loss, _pair_metrics(z_a.detach(), z_b.detach())


def _pair_metrics(z_a: torch.Tensor, z_b: torch.Tensor) -> dict[str, torch.Tensor]:
    """Monitoring: mean positive cosine; how often a view's nearest other view is its positive."""
    u_a = nn.functional.normalize(z_a.float(), dim=1)
    u_b = nn.functional.normalize(z_b.float(), dim=1)
    sim = u_a @ u_b.T
    hits = sim.argmax(dim=1) == torch.arange(len(sim), device=sim.device)
    return {"pos_cosine": sim.diagonal().mean(), "pair_top1": hits.float().mean()}
