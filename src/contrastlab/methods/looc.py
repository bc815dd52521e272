"""LOOC: leave-one-out contrastive learning (Xiao, Wang, Efros, Darrell, ICLR 2021).

A shared backbone with n + 1 projection heads on MoCo v2: head 0 embeds the all-invariant space
Z_0, head i the space Z_i that should vary with atomic augmentation i. Per image the view maker
draws a query q, a key k_0 with independent parameters and keys k_i that share only augmentation
i's parameters with q (`augment.leave_one_out`); the keys go through the momentum encoder and
momentum heads, and the loss is `losses.looc_nce` against one queue per space. Each queue is fed
the positive keys of its space (k_0 in Z_0, k_i in Z_i), gathered from every rank.

Representations for evaluation: ``backbone`` (LooC), ``looc++`` (the concatenation over heads of
each head's input to its last linear layer: the hidden layer of a 2-layer MLP head; our choice
where the paper's layer is uncertain), and each space's unit embedding (``z_all``, ``z_color``,
``z_rotation``, ...).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from contrastlab.augment import SimCLRViews
from contrastlab.augment.leave_one_out import leave_one_out_params
from contrastlab.config.schema import MocoConfig, Recipe
from contrastlab.core.distributed import (
    gather_no_grad,
    local_rows,
    shuffle_batch,
    unshuffle_batch,
)
from contrastlab.losses import looc_nce
from contrastlab.methods.base import Batch, StepOutput
from contrastlab.methods.moco import momentum_update_
from contrastlab.methods.parts import build_encoder_and_head, build_head, build_views
from contrastlab.models.encoder import Encoder
from contrastlab.models.heads import HeadFeatures
from contrastlab.models.split_bn import convert_split_bn


class LOOC(nn.Module):
    """Query encoder + n + 1 heads (trained), key encoder + heads (momentum copies), queues."""

    def __init__(
        self,
        encoder: Encoder,
        heads: Sequence[nn.Sequential],
        views: SimCLRViews,
        temperature: float,
        moco: MocoConfig,
        augmentations: tuple[str, ...],
        out_dim: int,
    ) -> None:
        super().__init__()
        if len(heads) != len(augmentations) + 1:
            raise ValueError(f"LOOC needs {len(augmentations) + 1} heads, got {len(heads)}")
        self.encoder = convert_split_bn(encoder, moco.bn_splits)
        self.heads = nn.ModuleList(heads)
        self.key_encoder = copy.deepcopy(self.encoder)
        self.key_heads = copy.deepcopy(self.heads)
        for param in self.key_parameters():
            param.requires_grad_(False)
        self.views = views
        self.temperature = temperature
        self.moco = moco
        self.augmentations = augmentations
        spaces = len(heads)
        queues = F.normalize(torch.randn(spaces, moco.queue_size, out_dim), dim=2)
        self.register_buffer("queues", queues)
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    @property
    def space_names(self) -> list[str]:
        return ["z_all", *(f"z_{name}" for name in self.augmentations)]

    def representations(self) -> dict[str, nn.Module]:
        """Name -> feature module: backbone (LooC), looc++ (concatenated heads), each space."""
        heads: list[nn.Sequential] = list(self.heads)  # type: ignore[arg-type]
        out: dict[str, nn.Module] = {
            "backbone": self.encoder,
            "looc++": HeadFeatures(self.encoder, heads, hidden=True),
        }
        for name, head in zip(self.space_names, heads, strict=True):
            out[name] = HeadFeatures(self.encoder, [head], hidden=False)
        return out

    def query_parameters(self) -> list[Tensor]:
        return [*self.encoder.parameters(), *self.heads.parameters()]

    def key_parameters(self) -> list[Tensor]:
        return [*self.key_encoder.parameters(), *self.key_heads.parameters()]

    def momentum_update(self) -> None:
        """theta_k <- m theta_k + (1 - m) theta_q over the encoder and every head."""
        momentum_update_(self.key_parameters(), self.query_parameters(), self.moco.momentum)

    @torch.no_grad()
    def key_embeddings(self, views: Tensor, generator: torch.Generator) -> Tensor:
        """(S, S, N, D): every key view (all n + 1 in one shuffled batch) in every space."""
        spaces = len(self.heads)
        if self.moco.shuffle_bn:
            shuffled, inverse = shuffle_batch(views, generator)
            h = unshuffle_batch(self.key_encoder(shuffled), inverse)
        else:
            h = self.key_encoder(views)
        keys = torch.stack([F.normalize(head(h), dim=1) for head in self.key_heads])
        return keys.view(spaces, spaces, -1, keys.shape[-1])

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Write (S, M, D) keys over the oldest entries of each space's queue."""
        queues, ptr = self.get_buffer("queues"), int(self.get_buffer("queue_ptr"))
        size = queues.shape[1]
        if size % keys.shape[1]:
            raise ValueError(
                f"method.moco.queue_size {size} is not a multiple of the {keys.shape[1]} keys "
                "enqueued per step"
            )
        queues[:, ptr : ptr + keys.shape[1]] = keys.to(queues.dtype)
        self.get_buffer("queue_ptr").fill_((ptr + keys.shape[1]) % size)

    def forward(self, batch: Batch, generator: torch.Generator) -> StepOutput:
        images = batch["image"]
        source = (images.shape[-2], images.shape[-1])
        total, mine = local_rows(len(images))  # draw for the global batch, keep this rank's
        params = leave_one_out_params(self.views, total, generator, source, self.augmentations)
        if total != len(images):
            params = [p.select(torch.arange(total)[mine]) for p in params]
        query_views = self.views.apply(images, params[0])
        key_views = torch.cat([self.views.apply(images, p) for p in params[1:]])
        self.momentum_update()
        h = self.encoder(query_views)
        queries = torch.stack([F.normalize(head(h), dim=1) for head in self.heads])
        keys = self.key_embeddings(key_views, generator)
        queues = self.get_buffer("queues").clone()
        loss = looc_nce(queries, keys, queues, self.temperature)
        spaces = torch.arange(len(self.heads), device=keys.device)
        positives = keys[spaces, spaces]  # (S, N, D): k_0 in Z_0, k_i in Z_i
        cosine = (queries.detach() * positives).sum(2)  # (S, N)
        metrics = {"pos_cosine": cosine.mean()}
        for name, value in zip(self.space_names, cosine.mean(1), strict=True):
            metrics[f"pos_cosine_{name}"] = value
        gathered = torch.stack([gather_no_grad(part) for part in positives])
        self.enqueue(gathered)
        return loss, metrics


def build_looc(recipe: Recipe) -> LOOC:
    augmentations = tuple(recipe.method.looc.augmentations)
    encoder, head = build_encoder_and_head(recipe)
    heads = [head, *(build_head(recipe, encoder.feature_dim) for _ in augmentations)]
    return LOOC(
        encoder,
        heads,
        build_views(recipe),
        recipe.method.temperature,
        recipe.method.moco,
        augmentations,
        recipe.model.head_out_dim,
    )
