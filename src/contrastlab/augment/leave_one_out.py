"""LOOC's views (Xiao et al., ICLR 2021): a query, a key with independent parameters, and one key
per atomic augmentation that shares exactly that augmentation's parameters with the query.

An atomic augmentation is a group of `ViewParams` fields; the crop is never shared (every view
gets its own), as in the paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from contrastlab.augment.params import ViewParams
from contrastlab.augment.simclr import SimCLRViews

ATOMIC_FIELDS: dict[str, tuple[str, ...]] = {
    "color": ("jitter", "factors", "order", "gray"),
    "rotation": ("rotation",),
    "blur": ("blur", "sigma"),
    "flip": ("flip",),
}


def share_augmentation(fresh: ViewParams, query: ViewParams, augmentation: str) -> ViewParams:
    """``fresh`` with the fields of ``augmentation`` copied from ``query``."""
    fields = fresh.to_dict()
    for name in ATOMIC_FIELDS[augmentation]:
        fields[name] = getattr(query, name).clone()
    return ViewParams(**fields)


def leave_one_out_params(
    views: SimCLRViews,
    batch_size: int,
    generator: torch.Generator,
    source_size: tuple[int, int],
    augmentations: Sequence[str],
) -> list[ViewParams]:
    """[q, k_0, k_1, ..., k_n]: k_0 independent of q, k_i sharing augmentation i with q.

    Draws, in order: q, k_0, then for each i a fresh set whose augmentation-i fields are
    replaced by q's, so every field not shared is an independent draw.
    """
    query = views.sample(batch_size, generator, source_size)
    params = [query, views.sample(batch_size, generator, source_size)]
    for augmentation in augmentations:
        fresh = views.sample(batch_size, generator, source_size)
        params.append(share_augmentation(fresh, query, augmentation))
    return params
