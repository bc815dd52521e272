"""MoCo v2 (He et al., CVPR 2020; Chen et al., arXiv 2003.04297): a momentum key encoder and a
queue of past keys as negatives.

Per step, as in facebookresearch/moco: (1) the key encoder moves toward the query encoder,
theta_k <- m theta_k + (1 - m) theta_q; (2) keys are computed without gradient, through BatchNorm in
a shuffled order (shuffle-BN: across ranks under torch.distributed, split-BN groups on one
device); (3) loss = InfoNCE(q, k+, queue) with logits [q.k+, q.queue] / tau; (4) the keys (gathered
from every rank) replace the oldest entries of the queue. The symmetric variant of the CIFAR demo
adds InfoNCE(q2, k1) and enqueues both key sets.

`build_temporal` is Frame Temporal Invariance (Purushwalkam & Gupta, NeurIPS 2020): MoCo v2 whose
query and key are two frames of one sequence at most ``method.temporal.max_gap`` apart
(`train.pairs`), each then augmented.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from contrastlab.augment import SimCLRViews
from contrastlab.config.schema import MocoConfig, Recipe
from contrastlab.core.distributed import gather_no_grad, shuffle_batch, unshuffle_batch
from contrastlab.core.errors import ConfigError
from contrastlab.losses import info_nce
from contrastlab.methods.base import Batch, ExtraTerm, StepOutput
from contrastlab.methods.parts import build_encoder_and_head, build_views
from contrastlab.models.encoder import Encoder
from contrastlab.models.split_bn import convert_split_bn


@torch.no_grad()
def momentum_update_(keys: list[Tensor], queries: list[Tensor], momentum: float) -> None:
    """keys <- momentum * keys + (1 - momentum) * queries, in place (MoCo's key encoder)."""
    torch._foreach_mul_(keys, momentum)
    torch._foreach_add_(keys, [q.detach() for q in queries], alpha=1.0 - momentum)


class MoCo(nn.Module):
    """Query encoder + head (trained), key encoder + head (momentum copies), queue (K, D).

    ``queue`` and ``queue_ptr`` are buffers, so checkpoints carry them and a resumed run continues
    with the same negatives. The queue starts as random unit vectors (MoCo's initialisation).
    With an ``adversary`` (CLAE, our extension to MoCo; see `methods.clae`) the loss adds
    alpha * InfoNCE(q_adv, k+, queue) for an FGSM copy of the first query view.
    """

    def __init__(
        self,
        encoder: Encoder,
        head: nn.Module,
        views: SimCLRViews,
        temperature: float,
        config: MocoConfig,
        out_dim: int,
    ):
        super().__init__()
        self.encoder = convert_split_bn(encoder, config.bn_splits)
        self.head = head
        self.key_encoder = copy.deepcopy(self.encoder)
        self.key_head = copy.deepcopy(head)
        for param in self.key_parameters():
            param.requires_grad_(False)
        self.views = views
        self.temperature = temperature
        self.config = config
        queue = F.normalize(torch.randn(config.queue_size, out_dim), dim=1)
        self.register_buffer("queue", queue)
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self.adversary: ExtraTerm | None = None  # CLAE's adversarial views (`methods.clae`)
        self.temporal = False  # positives from batch["partner"] (method temporal)

    def query_parameters(self) -> list[Tensor]:
        return [*self.encoder.parameters(), *self.head.parameters()]

    def key_parameters(self) -> list[Tensor]:
        return [*self.key_encoder.parameters(), *self.key_head.parameters()]

    def momentum_update(self) -> None:
        """theta_k <- m theta_k + (1 - m) theta_q on parameters; buffers stay the key net's own."""
        momentum_update_(self.key_parameters(), self.query_parameters(), self.config.momentum)

    @torch.no_grad()
    def key_embeddings(self, views: Tensor, generator: torch.Generator) -> Tensor:
        """Unit keys of ``views``, computed in shuffled order when ``shuffle_bn`` is on."""
        if not self.config.shuffle_bn:
            return F.normalize(self.key_head(self.key_encoder(views)), dim=1)
        shuffled, inverse = shuffle_batch(views, generator)
        keys = F.normalize(self.key_head(self.key_encoder(shuffled)), dim=1)
        return unshuffle_batch(keys, inverse)

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Write ``keys`` over the oldest queue entries (the queue size is a multiple of them)."""
        queue, ptr = self.get_buffer("queue"), int(self.get_buffer("queue_ptr"))
        if len(queue) % len(keys):
            raise ValueError(
                f"method.moco.queue_size {len(queue)} is not a multiple of the {len(keys)} keys "
                "enqueued per step"
            )
        queue[ptr : ptr + len(keys)] = keys.to(queue.dtype)
        self.get_buffer("queue_ptr").fill_((ptr + len(keys)) % len(queue))

    def _contrast(
        self, views_q: Tensor, views_k: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor, Tensor]:
        q = F.normalize(self.head(self.encoder(views_q)), dim=1)
        k = self.key_embeddings(views_k, generator)
        loss = info_nce(q, k, self.get_buffer("queue").clone(), self.temperature)
        return loss, q.detach(), k

    def forward(self, batch: Batch, generator: torch.Generator) -> StepOutput:
        images = batch["image"]
        second = images if not self.temporal else _partner_frames(batch)
        v1, v2 = self.views(images, generator), self.views(second, generator)
        self.momentum_update()
        loss, q, k = self._contrast(v1, v2, generator)
        keys = [k]
        if self.config.symmetric:
            loss_21, _, k1 = self._contrast(v2, v1, generator)
            loss = loss + loss_21
            keys.insert(0, k1)
        queue = self.get_buffer("queue")
        positive = (q * k).sum(1)
        hardest = (q @ queue.T).amax(1)
        metrics = {"pos_cosine": positive.mean(), "pos_top1": (positive > hardest).float().mean()}
        if self.adversary is not None:
            adversarial = self.adversary.loss(self, v1, k)
            loss = loss + self.adversary.alpha * adversarial
            metrics["adv_loss"] = adversarial.detach()
        self.enqueue(torch.cat([gather_no_grad(part) for part in keys]))
        return loss, metrics


def _partner_frames(batch: Batch) -> Tensor:
    partner = batch.get("partner")
    if partner is None:
        raise ConfigError(
            "method temporal needs each batch's partner frames (batch['partner']): train it with "
            "`contrastlab train temporal`, or give Trainer(..., pairs=temporal_pairs(data, "
            "max_gap))"
        )
    return partner


def build_moco(recipe: Recipe) -> MoCo:
    encoder, head = build_encoder_and_head(recipe)
    return MoCo(
        encoder,
        head,
        build_views(recipe),
        recipe.method.temperature,
        recipe.method.moco,
        recipe.model.head_out_dim,
    )


def build_temporal(recipe: Recipe) -> MoCo:
    """MoCo v2 on temporal positives: the key view is made from the batch's partner frames."""
    method = build_moco(recipe)
    method.temporal = True
    return method
