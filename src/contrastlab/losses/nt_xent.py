"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR.

Chen, Kornblith, Norouzi, Hinton, "A Simple Framework for Contrastive Learning of Visual
Representations", ICML 2020 (arXiv 2002.05709), eq. (1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    r"""NT-Xent over the 2N views of N positive pairs, averaged over the 2N anchors.

    With u = z / ||z|| for the 2N projections (views a then views b) and j(i) the other view of
    anchor i's image,

    .. math::
        \ell_i = -\log \frac{\exp(u_i^\top u_{j(i)} / \tau)}
                             {\sum_{k \ne i} \exp(u_i^\top u_k / \tau)},
        \qquad L = \frac{1}{2N} \sum_{i=1}^{2N} \ell_i .

    The denominator holds the positive and the 2N - 2 other views (same-view and cross-view
    negatives). SimCLR's TensorFlow code *sums* its two directional means, so its loss is 2L.

    Computed as a cross-entropy over cosine-similarity logits (a log-sum-exp, never a raw ``exp``),
    in float32 whatever the input precision, so it is safe under fp16/bf16 autocast.

    Args:
        z_a: (N, D) projections of the first views.
        z_b: (N, D) projections of the second views; row i is the positive of ``z_a[i]``.
        temperature: tau > 0.
    """
    if z_a.ndim != 2 or z_a.shape != z_b.shape:
        raise ValueError(
            f"z_a and z_b must both be (N, D), got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )
    if z_a.shape[0] < 2:
        raise ValueError(f"nt_xent needs at least 2 pairs, got N={z_a.shape[0]}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = z_a.shape[0]
    u = F.normalize(torch.cat([z_a, z_b]).float(), dim=1)
    logits = (u @ u.T) / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=u.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    index = torch.arange(n, device=u.device)
    targets = torch.cat([index + n, index])
    return F.cross_entropy(logits, targets)
