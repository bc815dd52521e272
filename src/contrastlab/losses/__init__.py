"""Contrastive losses: pure functions first, with the formula and the paper in each docstring."""

from contrastlab.losses.info_nce import InfoNCELoss, info_nce
from contrastlab.losses.nt_xent import NTXentLoss, nt_xent

__all__ = ["InfoNCELoss", "NTXentLoss", "info_nce", "nt_xent"]
