"""SimCLR (Chen et al., ICML 2020): two augmented views per image, a projection MLP, NT-Xent.

``method.simclr`` swaps the loss for a generalized contrastive loss (Chen, Luo & Li, NeurIPS
2021): alignment + lambda x a distribution term (decoupled log-sum-exp, or a sliced Wasserstein
distance to a normal, hypersphere or hypercube prior), or drops NT-Xent's same-view negatives.
"""

from __future__ import annotations

import torch
from torch import nn

from contrastlab.augment import SimCLRViews
from contrastlab.config.schema import Recipe, SimclrConfig
from contrastlab.core.distributed import across_ranks
from contrastlab.losses import generalized_contrastive, nt_xent
from contrastlab.methods.base import Batch, ExtraTerm, StepOutput
from contrastlab.methods.parts import build_encoder_and_head, build_views, pair_metrics
from contrastlab.models.encoder import Encoder


class SimCLR(nn.Module):
    """loss = NT-Xent(g(f(v1)), g(f(v2))) for two views v1, v2 of each image in the batch.

    Both views go through the encoder in one forward pass, so BatchNorm statistics are computed over
    the 2N views together, as in SimCLR's own code. With an ``adversary`` (CLAE, see
    `methods.clae`) the loss adds alpha * NT-Xent(z_1, z_adv) for an FGSM copy of view 1.

    ``loss`` (default: plain NT-Xent) chooses the objective: with ``loss.loss`` other than
    ``nt_xent`` it is ``scale x generalized_contrastive(z_a, z_b, ...)``, whose SWD projections
    and prior samples are drawn from the step's ``generator`` (so a run is repeatable and resumes
    exactly).
    """

    def __init__(
        self,
        encoder: Encoder,
        head: nn.Module,
        views: SimCLRViews,
        temperature: float,
        loss: SimclrConfig | None = None,
    ):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.views = views
        self.temperature = temperature
        self.loss_config = loss if loss is not None else SimclrConfig()
        self.adversary: ExtraTerm | None = None  # CLAE's adversarial views (`methods.clae`)

    def objective(
        self, z_a: torch.Tensor, z_b: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """The configured loss of the paired projections ``z_a``, ``z_b`` (N, D)."""
        config = self.loss_config
        gather = across_ranks()  # negatives from every rank's views under DDP
        if config.loss == "nt_xent":
            return nt_xent(
                z_a, z_b, self.temperature, cross_view_only=config.cross_view_only, gather=gather
            )
        return config.scale * generalized_contrastive(
            z_a,
            z_b,
            config.loss,
            config.weight,
            self.temperature,
            config.normalized(),
            mask_self=config.mask_self,
            generator=generator,
            gather=gather,
        )

    def forward(self, batch: Batch, generator: torch.Generator) -> StepOutput:
        images = batch["image"]
        v1, v2 = self.views(images, generator), self.views(images, generator)
        z_a, z_b = self.head(self.encoder(torch.cat([v1, v2]))).chunk(2)
        loss = self.objective(z_a, z_b, generator)
        metrics = pair_metrics(z_a, z_b)
        if self.adversary is not None:
            adversarial = self.adversary.loss(self, v1, z_a)
            loss = loss + self.adversary.alpha * adversarial
            metrics["adv_loss"] = adversarial.detach()
        return loss, metrics


def build_simclr(recipe: Recipe) -> SimCLR:
    encoder, head = build_encoder_and_head(recipe)
    method = recipe.method
    return SimCLR(encoder, head, build_views(recipe), method.temperature, method.simclr)
