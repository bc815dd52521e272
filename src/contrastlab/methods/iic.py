"""IIC (Ji, Henriques, Vedaldi, ICCV 2019): cluster by maximising the mutual information between
the cluster assignments of an image and of a transformed copy.

As in github.com/xu-ji/IIC: an over-clustering head A (k = ``overclusters``) and a clustering head
B (k = ``method.classes``), each of ``subheads`` independent linear + softmax heads whose losses
are averaged; the heads are trained alternately (``head_a_steps`` steps on A, then
``head_b_steps`` on B, both updating the trunk; the paper alternates per epoch, we alternate per
step in the same ratio); each image is paired with ``repeats`` independently transformed copies
(sample repeats); optional Sobel input. Both sides of a pair are drawn from the recipe's view
maker; the anchor view is computed once and its outputs repeated for the r pairs.

The output is cluster assignments (`IIC.assign`). The reported sub-head is the one with the lowest
training loss, tracked as an exponential moving average per sub-head of head B (``subhead_loss``,
a buffer saved in checkpoints), so choosing it uses no labels.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from contrastlab.augment import SimCLRViews
from contrastlab.config.schema import IICConfig, Recipe
from contrastlab.core.distributed import across_ranks, gather_with_grad
from contrastlab.evaluate.clustering import cluster_scores, hungarian_accuracy
from contrastlab.evaluate.features import extract_features
from contrastlab.losses import iic_loss
from contrastlab.methods.base import Batch, StepOutput
from contrastlab.methods.parts import build_views, method_classes
from contrastlab.models import build_encoder
from contrastlab.models.encoder import Encoder

LOSS_EMA = 0.9  # weight of the past in the per-sub-head training-loss average


class SubHeads(nn.Module):
    """``n`` independent linear + softmax heads: (B, D) -> (n, B, k) cluster probabilities."""

    def __init__(self, in_dim: int, k: int, n: int):
        super().__init__()
        self.heads = nn.ModuleList(nn.Linear(in_dim, k) for _ in range(n))

    def forward(self, features: Tensor) -> Tensor:
        return torch.stack([head(features).softmax(dim=1) for head in self.heads])


class IIC(nn.Module):
    def __init__(self, encoder: Encoder, views: SimCLRViews, config: IICConfig, classes: int):
        super().__init__()
        self.encoder = encoder
        self.views = views
        self.config = config
        dim, n = encoder.feature_dim, config.subheads
        self.head_a = SubHeads(dim, config.overclusters, n) if config.overclusters else None
        self.head_b = SubHeads(dim, classes, n)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("subhead_loss", torch.full((n,), float("nan")))

    def current_head(self) -> str:
        """ "a" or "b": which head this step trains (always "b" without over-clustering)."""
        c = self.config
        if self.head_a is None:
            return "b"
        return (
            "a"
            if int(self.get_buffer("step")) % (c.head_a_steps + c.head_b_steps) < (c.head_a_steps)
            else "b"
        )

    def forward(self, batch: Batch, generator: torch.Generator) -> StepOutput:
        images, r = batch["image"], self.config.repeats
        anchors = self.views(images, generator)
        copies = torch.cat([self.views(images, generator) for _ in range(r)])
        features = self.encoder(torch.cat([anchors, copies]))
        f_anchor, f_copies = features[: len(images)], features[len(images) :]
        name = self.current_head()
        heads = self.head_a if name == "a" else self.head_b
        assert heads is not None
        p = heads(f_anchor).repeat(1, r, 1)  # (n, rB, k): anchor i paired with each of its copies
        p_prime = heads(f_copies)
        if across_ranks():  # the joint distribution is over the global batch: gather the pairs
            p = gather_with_grad(p.transpose(0, 1)).transpose(0, 1)
            p_prime = gather_with_grad(p_prime.transpose(0, 1)).transpose(0, 1)
        lam = self.config.lam
        losses = torch.stack([iic_loss(a, b, lam) for a, b in zip(p, p_prime, strict=True)])
        with torch.no_grad():
            self.get_buffer("step").add_(1)
            if name == "b":
                ema = self.get_buffer("subhead_loss")
                fresh = losses.detach().float()
                ema.copy_(torch.where(ema.isnan(), fresh, LOSS_EMA * ema + (1 - LOSS_EMA) * fresh))
        ema = torch.nan_to_num(self.get_buffer("subhead_loss"), nan=float("inf")).min()
        best = ema if bool(ema.isfinite()) else losses.detach().min()
        return losses.mean(), {"head_b_best_loss": best}

    @torch.no_grad()
    def assign(self, images: Tensor, *, device: torch.device, batch_size: int = 512) -> Tensor:
        """Head B's cluster of each uint8 image, per sub-head: int64 (subheads, N), on the CPU."""
        features = extract_features(self.encoder, images, batch_size=batch_size, device=device)
        was_training = self.head_b.training
        self.head_b.eval()
        probs = self.head_b(features.to(device))
        self.head_b.train(was_training)
        return probs.argmax(dim=2).cpu()

    def cluster_metrics(
        self, images: Tensor, labels: Tensor, *, device: torch.device, batch_size: int = 512
    ) -> dict[str, float | int]:
        """Hungarian accuracy of head B: the lowest-training-loss sub-head (``cluster_top1``),
        the best and the mean and standard deviation over sub-heads; NMI and ARI of the chosen
        sub-head (``cluster_nmi``, ``cluster_ari``)."""
        clusters = self.assign(images, device=device, batch_size=batch_size).numpy()
        accs = np.array([hungarian_accuracy(c, labels.numpy()) for c in clusters])
        ema = self.get_buffer("subhead_loss")
        chosen = 0 if bool(ema.isnan().all()) else int(torch.nan_to_num(ema, nan=np.inf).argmin())
        chosen_scores = cluster_scores(clusters[chosen], labels.numpy())
        return {
            "cluster_top1": float(accs[chosen]),
            "cluster_nmi": chosen_scores["nmi"],
            "cluster_ari": chosen_scores["ari"],
            "cluster_subhead": chosen,
            "cluster_top1_best": float(accs.max()),
            "cluster_top1_mean": float(accs.mean()),
            "cluster_top1_std": float(accs.std()),
        }


def build_iic(recipe: Recipe) -> IIC:
    config = recipe.method.iic
    encoder = build_encoder(recipe.model, recipe.data, sobel=config.sobel)
    return IIC(encoder, build_views(recipe), config, method_classes(recipe))
