"""Temporal positive pairs: for each frame, another frame of the same sequence at most ``max_gap``
frames away (Frame Temporal Invariance, Purushwalkam & Gupta, NeurIPS 2020).

Frames are rows of the training tensors with ``sequence`` and ``frame`` metadata. A frame's
partner is drawn uniformly among the other rows of its sequence whose frame index differs by at
most ``max_gap`` (gaps left by a held-out split or a subset are simply not there); a frame with no
such neighbour is paired with itself (its two views then differ by augmentation only, as in
plain MoCo).
"""

from __future__ import annotations

import torch
from torch import Tensor

from contrastlab.core.errors import DataError
from contrastlab.data import ImageTensors

SEQUENCE_KEYS = ("sequence", "frame")


class TemporalPairs:
    """Draws partner rows: ``pairs(rows, generator)`` -> rows of the same length."""

    def __init__(self, sequence: Tensor, frame: Tensor, max_gap: int) -> None:
        if max_gap < 1:
            raise ValueError(f"max_gap must be at least 1, got {max_gap}")
        seq, fr = sequence.to(torch.int64), frame.to(torch.int64)
        if seq.shape != fr.shape or seq.ndim != 1:
            raise ValueError("sequence and frame must be 1-d and of the same length")
        span = int(fr.max() - fr.min()) + 2 * max_gap + 2 if len(fr) else 1
        key = seq * span + (fr - (fr.min() if len(fr) else 0))
        self.order = torch.argsort(key, stable=True)  # sorted position -> row
        self.position = torch.empty_like(self.order)
        self.position[self.order] = torch.arange(len(key))  # row -> sorted position
        ordered = key[self.order]
        # Candidates of sorted position p: positions [low[p], high[p]) (itself included).
        self.low = torch.searchsorted(ordered, ordered - max_gap, right=False)
        self.high = torch.searchsorted(ordered, ordered + max_gap, right=True)
        self.max_gap = max_gap

    def __len__(self) -> int:
        return len(self.order)

    def __call__(self, rows: Tensor, generator: torch.Generator) -> Tensor:
        """A partner for each row; one uniform draw per row from ``generator``."""
        p = self.position[rows.cpu()]
        low, high = self.low[p], self.high[p]
        others = high - low - 1  # neighbours other than the frame itself
        pick = (torch.rand(len(rows), generator=generator) * others).long()
        candidate = low + pick
        candidate = candidate + (candidate >= p).long()  # skip the frame itself
        partner = torch.where(others > 0, candidate, p)
        return self.order[partner].to(rows.device)


def temporal_pairs(data: ImageTensors, max_gap: int) -> TemporalPairs:
    """The pair sampler of a data set with ``sequence`` and ``frame`` metadata."""
    missing = [key for key in SEQUENCE_KEYS if key not in data.meta]
    if missing:
        raise DataError(
            f"method temporal needs frame sequences, but {data.name} has no "
            f"{' or '.join(missing)} metadata: train on the built-in `sequences`, a folder of "
            "frame folders (--set data.options.layout=frames) or a video file"
        )
    return TemporalPairs(data.meta["sequence"], data.meta["frame"], max_gap)
