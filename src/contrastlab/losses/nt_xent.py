"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR.

Chen, Kornblith, Norouzi, Hinton, "A Simple Framework for Contrastive Learning of Visual
Representations", ICML 2020 (arXiv 2002.05709), eq. (1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from contrastlab.core.distributed import gather_with_grad, rank_and_world
from contrastlab.losses._contrast import check_chunk_size, check_temperature, contrast_losses
from contrastlab.losses._precision import float32_loss, upcast


@float32_loss
def nt_xent(
    z_a: Tensor,
    z_b: Tensor,
    temperature: float = 0.5,
    *,
    cross_view_only: bool = False,
    gather: bool = False,
    chunk_size: int | None = None,
) -> Tensor:
    r"""NT-Xent over the 2N views of N positive pairs, averaged over the 2N anchors.

    With u = z / ||z|| for the 2N projections (views a then views b) and j(i) the other view of
    anchor i's image,

    .. math::
        \ell_i = -\log \frac{\exp(u_i^\top u_{j(i)} / \tau)}
                             {\sum_{k \ne i} \exp(u_i^\top u_k / \tau)},
        \qquad L = \frac{1}{2N} \sum_{i=1}^{2N} \ell_i .

    The denominator holds the positive and the 2N - 2 other views (same-view and cross-view
    negatives). SimCLR's TensorFlow code *sums* its two directional means, so its loss is 2L.

    With ``cross_view_only`` the denominator of a view-a anchor holds only the N view-b
    projections (and vice versa): no same-view negatives, as in the RandBit colab of Chen, Luo and
    Li (NeurIPS 2021), which also sums the two directions (2L again).

    Computed in float32 whatever the input precision (float64 for float64 inputs), as
    log-sum-exps, never a raw ``exp``; the gradient is written out (see
    `contrastlab.losses._contrast`).

    Args:
        z_a: (N, D) projections of the first views.
        z_b: (N, D) projections of the second views; row i is the positive of ``z_a[i]``.
        temperature: tau > 0.
        cross_view_only: drop the same-view negatives.
        gather: under ``torch.distributed``, use every rank's views as negatives (gathered with
            gradient); each rank's loss is the mean over its own 2N anchors, and their mean over
            ranks is the loss of one process on the concatenated batch. No-op in one process.
        chunk_size: hold the logits of at most this many anchors at a time (memory
            O(chunk_size x 2N) instead of O(4N^2)); the result is the same.
    """
    if z_a.ndim != 2 or z_a.shape != z_b.shape:
        raise ValueError(
            f"z_a and z_b must both be (N, D), got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )
    if z_a.shape[0] < 2:
        raise ValueError(f"nt_xent needs at least 2 pairs (z_a.shape[0] >= 2), got {z_a.shape[0]}")
    check_temperature(temperature)
    check_chunk_size(chunk_size)
    n = z_a.shape[0]
    a, b = upcast(z_a, z_b)
    u_a, u_b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    rank, _ = rank_and_world()
    keys_a = gather_with_grad(u_a) if gather else u_a
    keys_b = gather_with_grad(u_b) if gather else u_b
    own = torch.arange(n, device=u_a.device) + rank * n  # this rank's rows among the gathered
    if cross_view_only:
        losses_a = contrast_losses(u_a, keys_b, own, None, temperature, chunk_size)
        losses_b = contrast_losses(u_b, keys_a, own, None, temperature, chunk_size)
        return torch.cat([losses_a, losses_b]).mean()
    total = keys_a.shape[0]
    keys = torch.cat([keys_a, keys_b])
    anchors = torch.cat([u_a, u_b])
    positives = torch.cat([own + total, own])
    excluded = torch.cat([own, own + total])
    return contrast_losses(anchors, keys, positives, excluded, temperature, chunk_size).mean()


class NTXentLoss(nn.Module):
    """`nt_xent` as a module; it holds only the hyper-parameters."""

    def __init__(
        self,
        temperature: float = 0.5,
        *,
        cross_view_only: bool = False,
        gather: bool = False,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        check_temperature(temperature)
        check_chunk_size(chunk_size)
        self.temperature = temperature
        self.cross_view_only = cross_view_only
        self.gather = gather
        self.chunk_size = chunk_size

    def forward(self, z_a: Tensor, z_b: Tensor) -> Tensor:
        return nt_xent(
            z_a,
            z_b,
            self.temperature,
            cross_view_only=self.cross_view_only,
            gather=self.gather,
            chunk_size=self.chunk_size,
        )
