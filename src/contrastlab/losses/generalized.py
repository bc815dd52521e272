"""The generalized contrastive loss: alignment + weight x distribution matching.

Chen, Luo, Li, "Intriguing Properties of Contrastive Losses", NeurIPS 2021 (arXiv 2011.02803),
following the authors' notebook ``generalized_contrastive_loss.ipynb`` exactly.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from contrastlab.core.distributed import gather_with_grad, rank_and_world
from contrastlab.losses._contrast import check_temperature
from contrastlab.losses._precision import float32_loss, upcast

Distribution = Literal["logsumexp", "swd_normal", "swd_hypersphere", "swd_hypercube"]
DISTRIBUTIONS = ("logsumexp", "swd_normal", "swd_hypersphere", "swd_hypercube")


@float32_loss
def generalized_contrastive(
    h1: Tensor,
    h2: Tensor,
    distribution: Distribution = "logsumexp",
    weight: float = 1.0,
    temperature: float = 1.0,
    normalize: bool = True,
    *,
    mask_self: bool = False,
    generator: torch.Generator | None = None,
    gather: bool = False,
) -> Tensor:
    r"""L = alignment + weight x distribution term, for paired (N, D) embeddings h1, h2.

    Alignment is the per-*element* mean: :math:`\frac{1}{2ND}\sum_{i,d}(h_{1,id} - h_{2,id})^2`
    (it divides by D too, so the paper's weights carry over). With H = [h1; h2] (2N x D):

    - ``logsumexp`` (decoupled NT-Xent): :math:`\frac{1}{2N}\sum_i [\log\sum_k \exp(H_i \cdot H_k
      / \tau) - \log D]`, with the self term *kept* and no positive excluded (paper-faithful);
      ``mask_self=True`` drops the self term, SimCLR-style. For unit vectors
      tau x NT-Xent = D x alignment - 1 + tau x (masked log-sum-exp term + log D).
    - ``swd_normal`` / ``swd_hypersphere`` / ``swd_hypercube``: sliced Wasserstein-2 between H
      and as many prior samples (N(0, I); N(0, I) rows normalised; U(-1, 1)^D): both projected
      by a fresh random orthogonal D x D matrix (QR of a Gaussian), each column sorted, mean
      squared difference. Projection and prior are redrawn at every call from ``generator``
      (CPU; the global RNG when None). The paper pairs normal with ``normalize=False``,
      hypersphere with True, hypercube with False.

    Args:
        h1, h2: (N, D) embeddings of the two views.
        distribution: one of ``DISTRIBUTIONS``.
        weight: lambda, the distribution term's weight.
        temperature: tau > 0 of the log-sum-exp term.
        normalize: L2-normalise h1 and h2 first.
        mask_self: leave the self-similarity out of the log-sum-exp.
        generator: randomness of the SWD terms.
        gather: under ``torch.distributed``, log-sum-exp keys come from every rank (gathered
            with gradient; each rank's term covers its own rows); the SWD terms are computed on
            the gathered global batch (the same on every rank, and the prior as large as it),
            so they equal the single-process value. No-op in one process.
    """
    _check(h1, h2, distribution, weight, temperature)
    a, b = upcast(h1, h2)
    if normalize:
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    alignment = (a - b).pow(2).mean() / 2
    rows = torch.cat([a, b])
    if distribution == "logsumexp":
        term = _logsumexp_term(a, b, rows, temperature, mask_self, gather)
    else:
        if gather:
            rows = torch.cat([gather_with_grad(a), gather_with_grad(b)])
        term = _swd_term(rows, distribution, generator)
    return alignment + weight * term


def _logsumexp_term(
    a: Tensor, b: Tensor, rows: Tensor, temperature: float, mask_self: bool, gather: bool
) -> Tensor:
    keys = torch.cat([gather_with_grad(a), gather_with_grad(b)]) if gather else rows
    logits = rows @ keys.T / temperature
    if mask_self:
        n, (rank, _) = a.shape[0], rank_and_world()
        total = keys.shape[0] // 2
        own = torch.arange(n, device=rows.device) + rank * n
        self_index = torch.cat([own, own + total])
        logits = logits.scatter(1, self_index[:, None], float("-inf"))
    return (torch.logsumexp(logits, dim=1) - math.log(rows.shape[1])).mean()


def _swd_term(rows: Tensor, distribution: str, generator: torch.Generator | None) -> Tensor:
    count, dim = rows.shape
    # drawn in float32 whatever the dtype, so a float64 call sees the same random numbers
    gaussian = torch.randn(dim, dim, generator=generator).to(rows.dtype)
    projection = torch.linalg.qr(gaussian).Q.to(rows.device)
    if distribution == "swd_hypercube":
        prior = torch.rand(count, dim, generator=generator) * 2 - 1
    else:
        prior = torch.randn(count, dim, generator=generator)
        if distribution == "swd_hypersphere":
            prior = F.normalize(prior, dim=1)
    ours = (rows @ projection).sort(dim=0).values
    target = (prior.to(rows) @ projection).sort(dim=0).values
    return (ours - target).pow(2).mean()


def _check(h1: Tensor, h2: Tensor, distribution: str, weight: float, temperature: float) -> None:
    if h1.ndim != 2 or h1.shape != h2.shape:
        raise ValueError(
            f"h1 and h2 must both be (N, D), got {tuple(h1.shape)} and {tuple(h2.shape)}"
        )
    if h1.shape[0] < 2:
        raise ValueError(f"generalized_contrastive needs N >= 2 pairs, got N={h1.shape[0]}")
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    if not (isinstance(weight, (int, float)) and math.isfinite(weight)):
        raise ValueError(f"weight must be a finite number, got {weight!r}")
    check_temperature(temperature)


class GeneralizedContrastiveLoss(nn.Module):
    """`generalized_contrastive` as a module; it holds only the hyper-parameters."""

    def __init__(
        self,
        distribution: Distribution = "logsumexp",
        weight: float = 1.0,
        temperature: float = 1.0,
        normalize: bool = True,
        *,
        mask_self: bool = False,
        gather: bool = False,
    ) -> None:
        super().__init__()
        self.distribution, self.weight, self.temperature = distribution, weight, temperature
        self.normalize, self.mask_self, self.gather = normalize, mask_self, gather

    def forward(self, h1: Tensor, h2: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return generalized_contrastive(
            h1,
            h2,
            self.distribution,
            self.weight,
            self.temperature,
            self.normalize,
            mask_self=self.mask_self,
            generator=generator,
            gather=self.gather,
        )
