"""Contrastive losses: pure functions first, with the formula and the paper in each docstring."""

from contrastlab.losses.nt_xent import nt_xent

__all__ = ["nt_xent"]
