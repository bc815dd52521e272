"""The leave-one-out contrastive loss of LOOC (Xiao, Wang, Efros, Darrell, "What Should Not Be
Contrastive in Contrastive Learning", ICLR 2021, arXiv 2008.05659, section 3).

Per image: a query q and n + 1 keys k_0..k_n (k_0 shares no augmentation with q, k_i shares
exactly augmentation i). There are n + 1 embedding spaces: Z_0, invariant to every augmentation,
and Z_i, which should vary with augmentation i. Space s has its own query q^s, keys k_j^s and
queue Q_s.
"""

from __future__ import annotations

import torch
from torch import Tensor

from contrastlab.losses._precision import float32_loss, upcast

__all__ = ["looc_nce"]


@float32_loss
def looc_nce(queries: Tensor, keys: Tensor, queues: Tensor, temperature: float) -> Tensor:
    r"""Mean over the n + 1 spaces of each space's InfoNCE, cosine similarity.

    With unit vectors, logits divided by tau:

    .. math::
        \mathcal{L}_0 = \frac{1}{n+1} \sum_{j=0}^{n} \mathrm{CE}\big([q^0 \cdot k^0_j,\;
            q^0 \cdot Q_0]\big), \qquad
        \mathcal{L}_i = \mathrm{CE}\big([q^i \cdot k^i_i,\; q^i \cdot k^i_{j \ne i},\;
            q^i \cdot Q_i]\big), \qquad
        \mathcal{L} = \frac{1}{n+1} \sum_{s=0}^{n} \mathcal{L}_s ,

    each CE the cross-entropy with the first logit as the target, averaged over the batch. In
    Z_0 every key is a positive (one term each against the queue); in Z_i only k_i is, and the
    image's other keys, which differ from q in augmentation i, are extra negatives. These two
    readings of the paper (a mean over positives in Z_0; the other keys as negatives in Z_i) are
    our choices where the paper could not be checked (no official code was found).

    Args:
        queries: (S, N, D) unit queries, S = n + 1 spaces.
        keys: (S, S, N, D) unit keys; ``keys[s, j]`` is key view j embedded in space s.
        queues: (S, K, D) unit negatives, one queue per space.
        temperature: tau > 0.
    """
    s, n, d = queries.shape
    if keys.shape != (s, s, n, d) or queues.ndim != 3 or queues.shape[::2] != (s, d):
        raise ValueError(
            f"looc_nce needs queries (S, N, D), keys (S, S, N, D), queues (S, K, D); got "
            f"{tuple(queries.shape)}, {tuple(keys.shape)}, {tuple(queues.shape)}"
        )
    if s < 2:
        raise ValueError("looc_nce needs at least one augmentation (S = n + 1 >= 2 spaces)")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    q, k, bank = upcast(queries, keys, queues)
    with_keys = torch.einsum("snd,sjnd->snj", q, k) / temperature  # (S, N, S)
    with_queue = torch.einsum("snd,skd->snk", q, bank) / temperature  # (S, N, K)
    # Z_0: each key against the queue alone.
    queue_lse = torch.logsumexp(with_queue[0], dim=1, keepdim=True)  # (N, 1)
    invariant = (torch.logaddexp(with_keys[0], queue_lse) - with_keys[0]).mean()
    # Z_i: the shared-augmentation key against the other keys and the queue.
    everything = torch.cat([with_keys[1:], with_queue[1:]], dim=2)  # (S-1, N, S+K)
    spaces = torch.arange(1, s, device=q.device)
    positive = with_keys[spaces, :, spaces]  # (S-1, N): q^i . k^i_i
    varying = (torch.logsumexp(everything, dim=2) - positive).mean(dim=1)  # (S-1,)
    return (invariant + varying.sum()) / s
