"""Batched image augmentation with explicit, replayable parameters (see `simclr`)."""

from __future__ import annotations

from contrastlab.augment.params import ViewParams
from contrastlab.augment.simclr import SimCLRAugment, SimCLRViews

__all__ = ["SimCLRAugment", "SimCLRViews", "ViewParams"]
