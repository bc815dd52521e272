"""Contrastive losses: pure functions first, with the formula and the paper in each docstring."""

from contrastlab.losses.iic import IICLoss, iic_loss
from contrastlab.losses.info_nce import InfoNCELoss, info_nce
from contrastlab.losses.nt_xent import NTXentLoss, nt_xent
from contrastlab.losses.supcon import SupConLoss, supcon

__all__ = [
    "IICLoss",
    "InfoNCELoss",
    "NTXentLoss",
    "SupConLoss",
    "iic_loss",
    "info_nce",
    "nt_xent",
    "supcon",
]
