"""IIC: negative mutual information between the cluster assignments of paired views.

Ji, Henriques, Vedaldi, "Invariant Information Clustering for Unsupervised Image Classification
and Segmentation", ICCV 2019 (arXiv 1807.06653), eqs. (1)-(3) and the authors' ``IID_loss``.
"""

from __future__ import annotations

import math
import sys

import torch
from torch import Tensor, nn

from contrastlab.losses._precision import float32_loss, upcast

EPS = sys.float_info.epsilon  # the IIC code's clamp (2.2e-16), applied before every log


@float32_loss
def iic_loss(p: Tensor, p_prime: Tensor, lam: float = 1.0) -> Tensor:
    r"""-I(z; z') of the symmetrised, normalised joint of paired soft assignments.

    With p_i, p'_i the (C,) softmax outputs for the two views of sample i,

    .. math::
        P = \mathrm{norm}\Big(\tfrac12 (J + J^\top)\Big),\quad J = \sum_i p_i\, p'^\top_i, \qquad
        L = -\sum_{c, c'} P_{cc'} \big[\ln P_{cc'} - \lambda \ln P_c - \lambda \ln P_{c'}\big],

    where P_c, P_{c'} are P's row and column sums. As in the authors' code the marginals are
    taken before P, P_c and P_c' are clamped at ``EPS`` (so entries below it get no gradient).
    lam = 1 is the mutual information; lam > 1 up-weights the marginal entropies (1.5 for the
    paper's COCO-Stuff-3 head B). The minimum, -ln C, is reached by balanced, confident clusters
    on which the two views agree; uniform outputs give 0. Computed in float32 (float64 for
    float64 inputs).

    Args:
        p: (N, C) cluster probabilities of the first views (rows sum to 1).
        p_prime: (N, C) those of the second views.
        lam: the weight of the marginal terms.
    """
    if p.ndim != 2 or p.shape != p_prime.shape:
        raise ValueError(
            f"p and p_prime must both be (N, C), got {tuple(p.shape)} and {tuple(p_prime.shape)}"
        )
    if p.shape[0] < 1 or p.shape[1] < 2:
        raise ValueError(f"iic_loss needs N >= 1 samples and C >= 2 clusters, got {tuple(p.shape)}")
    if not (isinstance(lam, (int, float)) and math.isfinite(lam)):
        raise ValueError(f"lam must be a finite number, got {lam!r}")
    a, b = upcast(p, p_prime)
    # Rows must sum to 1 up to the rounding of the input dtype (fp16/bf16 softmax outputs).
    tolerance = max(1e-3, p.shape[1] * torch.finfo(p.dtype).eps) if p.is_floating_point() else 1e-3
    for name, x in (("p", a), ("p_prime", b)):
        sums = x.sum(dim=1)
        if (x < -1e-6).any() or not torch.allclose(sums, torch.ones_like(sums), atol=tolerance):
            raise ValueError(f"{name} must hold probabilities: non-negative rows that sum to 1")
    joint = a.T @ b
    joint = (joint + joint.T) / 2
    joint = joint / joint.sum()
    rows = joint.sum(dim=1, keepdim=True)
    cols = joint.sum(dim=0, keepdim=True)
    joint, rows, cols = joint.clamp(min=EPS), rows.clamp(min=EPS), cols.clamp(min=EPS)
    return -(joint * (joint.log() - lam * rows.log() - lam * cols.log())).sum()


class IICLoss(nn.Module):
    """`iic_loss` as a module; it holds only ``lam``."""

    def __init__(self, lam: float = 1.0) -> None:
        super().__init__()
        self.lam = lam

    def forward(self, p: Tensor, p_prime: Tensor) -> Tensor:
        return iic_loss(p, p_prime, self.lam)
