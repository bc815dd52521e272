"""SupCon (Khosla et al., NeurIPS 2020): SimCLR's two views and head, with every same-class view
in the batch a positive; and the cross-entropy baseline the paper compares it with.

Both are the first stage of a two-stage protocol: the second is the linear classifier on frozen
encoder features that `contrastlab.evaluate` fits after training (and `contrastlab eval` on any
run), so SupCon, cross-entropy and SimCLR are compared by one probe on the same backbone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from contrastlab.augment import SimCLRViews
from contrastlab.config.schema import Recipe, SupConConfig
from contrastlab.core.distributed import across_ranks
from contrastlab.losses import supcon
from contrastlab.methods.base import Batch, StepOutput
from contrastlab.methods.parts import (
    build_encoder_and_head,
    build_views,
    method_classes,
    pair_metrics,
    require_labels,
)
from contrastlab.models.encoder import Encoder


class SupCon(nn.Module):
    """loss = SupCon(g(f(v1)), g(f(v2)); labels), L_out by default, L_in selectable.

    The two views of the batch go through the encoder together (BatchNorm over 2N views); the
    features are stacked (N, 2, D) for `contrastlab.losses.supcon`. With every label distinct it is
    SimCLR's NT-Xent.
    """

    def __init__(
        self,
        encoder: Encoder,
        head: nn.Module,
        views: SimCLRViews,
        temperature: float,
        config: SupConConfig,
        classes: int,
    ):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.views = views
        self.temperature = temperature
        self.config = config
        self.classes = classes

    def forward(self, batch: Batch, generator: torch.Generator) -> StepOutput:
        images, labels = batch["image"], batch["label"]
        require_labels(labels, self.classes, "supcon")
        both = torch.cat([self.views(images, generator), self.views(images, generator)])
        z_a, z_b = self.head(self.encoder(both)).chunk(2)
        loss = supcon(
            torch.stack([z_a, z_b], dim=1),
            labels,
            self.temperature,
            variant=self.config.variant,
            base_temperature=self.config.base_temperature,
            gather=across_ranks(),  # the contrast set holds every rank's views under DDP
        )
        return loss, pair_metrics(z_a, z_b)


class CrossEntropy(nn.Module):
    """The supervised baseline: encoder + linear classifier on one augmented view, cross-entropy.

    Same backbone and augmentation as SupCon (SupContrast's ``main_ce.py`` uses one view of the
    same pipeline). The classifier is ``classifier``; evaluation reads ``encoder`` like any method.
    """

    def __init__(self, encoder: Encoder, views: SimCLRViews, classes: int):
        super().__init__()
        self.encoder = encoder
        self.classifier = nn.Linear(encoder.feature_dim, classes)
        self.views = views
        self.classes = classes

    def forward(self, batch: Batch, generator: torch.Generator) -> StepOutput:
        images, labels = batch["image"], batch["label"]
        require_labels(labels, self.classes, "ce")
        logits = self.classifier(self.encoder(self.views(images, generator)))
        loss = F.cross_entropy(logits, labels)
        top1 = (logits.detach().argmax(1) == labels).float().mean()
        return loss, {"train_top1": top1}


def build_supcon(recipe: Recipe) -> SupCon:
    encoder, head = build_encoder_and_head(recipe)
    method, classes = recipe.method, method_classes(recipe)
    return SupCon(encoder, head, build_views(recipe), method.temperature, method.supcon, classes)


def build_cross_entropy(recipe: Recipe) -> CrossEntropy:
    encoder, _ = build_encoder_and_head(recipe)
    return CrossEntropy(encoder, build_views(recipe), method_classes(recipe))
