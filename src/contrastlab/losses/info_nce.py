"""InfoNCE as MoCo uses it: each query against its key, the other keys and/or a bank (the queue).

He, Fan, Wu, Xie, Girshick, "Momentum Contrast for Unsupervised Visual Representation Learning",
CVPR 2020 (arXiv 1911.05722), eq. (1); MoCo v2: Chen, Fan, Girshick, He, arXiv 2003.04297.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from contrastlab.core.distributed import gather_with_grad, rank_and_world
from contrastlab.losses._contrast import check_chunk_size, check_temperature, contrast_losses
from contrastlab.losses._precision import float32_loss, upcast


@float32_loss
def info_nce(
    query: Tensor,
    key: Tensor,
    negatives: Tensor | None = None,
    temperature: float = 0.2,
    *,
    in_batch: bool | None = None,
    gather: bool = False,
    chunk_size: int | None = None,
) -> Tensor:
    r"""Mean over the N queries of the InfoNCE loss, cosine similarity.

    With unit vectors q_i, k_i (its positive key) and the negative set K_i,

    .. math::
        \ell_i = -\log \frac{\exp(q_i^\top k_i / \tau)}
            {\exp(q_i^\top k_i / \tau) + \sum_{n \in K_i} \exp(q_i^\top n / \tau)} .

    K_i is the bank ``negatives`` (MoCo's queue, (K, D)) and/or the other keys of the batch
    (``in_batch``). By default the batch keys are used exactly when no bank is given, so
    ``info_nce(q, k, queue)`` is MoCo's loss (logits [q.k+, q.queue] / tau, cross-entropy with the
    positive first) and ``info_nce(q, k)`` is the one-directional, cross-view-only NT-Xent. The bank
    gets no gradient of its own through the loss unless it requires one. MoCo v1 uses tau = 0.07,
    MoCo v2 tau = 0.2. Float32 log-sum-exps whatever the input precision (float64 ones for
    float64 inputs).

    Args:
        query: (N, D) queries.
        key: (N, D) keys; row i is the positive of ``query[i]``.
        negatives: optional (K, D) bank of negatives.
        temperature: tau > 0.
        in_batch: use the other keys as negatives (default: when ``negatives`` is None).
        gather: under ``torch.distributed``, in-batch keys come from every rank (gathered with
            gradient); no-op in one process and when ``in_batch`` is off.
        chunk_size: with in-batch negatives, hold the logits of at most this many queries at a
            time.
    """
    if query.ndim != 2 or query.shape != key.shape:
        raise ValueError(
            f"query and key must both be (N, D), got {tuple(query.shape)} and {tuple(key.shape)}"
        )
    if query.shape[0] < 1:
        raise ValueError("info_nce needs at least 1 query, got query.shape[0] = 0")
    if negatives is not None and (negatives.ndim != 2 or negatives.shape[1] != query.shape[1]):
        raise ValueError(
            f"negatives must be (K, {query.shape[1]}) like the queries, "
            f"got {tuple(negatives.shape)}"
        )
    use_batch = negatives is None if in_batch is None else in_batch
    if not use_batch and negatives is None:
        raise ValueError("info_nce with in_batch=False needs a negatives bank (negatives=None)")
    if use_batch and negatives is None and query.shape[0] < 2 and not gather:
        raise ValueError("info_nce with in-batch negatives needs at least 2 pairs, got 1")
    check_temperature(temperature)
    check_chunk_size(chunk_size)
    n = query.shape[0]
    inputs = upcast(query, key) if negatives is None else upcast(query, key, negatives)
    q, k = F.normalize(inputs[0], dim=1), F.normalize(inputs[1], dim=1)
    bank = None if negatives is None else F.normalize(inputs[2], dim=1)
    if not use_batch:
        assert bank is not None
        return _own_key_losses(q, k, bank, temperature).mean()
    rank, _ = rank_and_world()
    keys = gather_with_grad(k) if gather else k
    positives = torch.arange(n, device=q.device) + rank * n
    if bank is not None:
        keys = torch.cat([keys, bank])
    return contrast_losses(q, keys, positives, None, temperature, chunk_size).mean()


def _own_key_losses(q: Tensor, k: Tensor, bank: Tensor, temperature: float) -> Tensor:
    """Per-query losses with logits [q_i . k_i, q_i . bank] (MoCo: no other batch keys).

    Plain autograd: the N x K logits of a MoCo step are small next to the encoder's activations.
    """
    positive = (q * k).sum(dim=1, keepdim=True) / temperature
    negatives = q @ bank.T / temperature
    logits = torch.cat([positive, negatives], dim=1)
    return torch.logsumexp(logits, dim=1) - positive.squeeze(1)


class InfoNCELoss(nn.Module):
    """`info_nce` as a module holding only hyper-parameters (the queue lives in the Method)."""

    def __init__(
        self,
        temperature: float = 0.2,
        *,
        in_batch: bool | None = None,
        gather: bool = False,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        check_temperature(temperature)
        check_chunk_size(chunk_size)
        self.temperature = temperature
        self.in_batch = in_batch
        self.gather = gather
        self.chunk_size = chunk_size

    def forward(self, query: Tensor, key: Tensor, negatives: Tensor | None = None) -> Tensor:
        return info_nce(
            query,
            key,
            negatives,
            self.temperature,
            in_batch=self.in_batch,
            gather=self.gather,
            chunk_size=self.chunk_size,
        )
