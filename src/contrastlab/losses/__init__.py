"""Contrastive losses: pure functions first, with the formula and the paper in each docstring."""

from contrastlab.losses.generalized import GeneralizedContrastiveLoss, generalized_contrastive
from contrastlab.losses.iic import IICLoss, iic_loss
from contrastlab.losses.info_nce import InfoNCELoss, info_nce
from contrastlab.losses.looc import looc_nce
from contrastlab.losses.nt_xent import NTXentLoss, nt_xent
from contrastlab.losses.supcon import SupConLoss, supcon

__all__ = [
    "GeneralizedContrastiveLoss",
    "IICLoss",
    "InfoNCELoss",
    "NTXentLoss",
    "SupConLoss",
    "generalized_contrastive",
    "iic_loss",
    "info_nce",
    "looc_nce",
    "nt_xent",
    "supcon",
]
