"""The temporal pair sampler never pairs frames of different sequences or farther apart than
max_gap, reaches every allowed partner, and pairs a lone frame with itself."""

from __future__ import annotations

import pytest
import torch

from contrastlab.core.errors import DataError
from contrastlab.data import ImageTensors
from contrastlab.train.pairs import TemporalPairs, temporal_pairs


def ragged_sequences(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffled rows of 7 sequences of different lengths, with random frames missing."""
    g = torch.Generator().manual_seed(seed)
    seq, frame = [], []
    for s in range(7):
        length = int(torch.randint(1, 30, (1,), generator=g))
        kept = torch.nonzero(torch.rand(length, generator=g) < 0.7).flatten()
        seq += [s] * len(kept)
        frame += kept.tolist()
    perm = torch.randperm(len(seq), generator=g)
    return torch.tensor(seq, dtype=torch.float64)[perm], torch.tensor(frame, dtype=torch.float64)[
        perm
    ]


@pytest.mark.parametrize("max_gap", [1, 3, 8])
def test_partners_share_the_sequence_and_stay_within_max_gap(max_gap: int) -> None:
    seq, frame = ragged_sequences()
    pairs = TemporalPairs(seq, frame, max_gap)
    rows = torch.arange(len(seq)).repeat(200)
    generator = torch.Generator().manual_seed(1)
    partner = pairs(rows, generator)
    assert torch.equal(seq[partner], seq[rows])
    gap = (frame[partner] - frame[rows]).abs()
    assert int(gap.max()) <= max_gap
    # Every allowed partner is drawn, and a frame is its own partner only when it has none.
    for row in range(len(seq)):
        allowed = {
            int(j)
            for j in torch.nonzero((seq == seq[row]) & ((frame - frame[row]).abs() <= max_gap))
            if int(j) != row
        }
        drawn = set(partner[rows == row].tolist())
        assert drawn == (allowed or {row}), row


def test_draws_come_from_the_generator_alone() -> None:
    seq, frame = ragged_sequences(3)
    pairs = TemporalPairs(seq, frame, 2)
    rows = torch.arange(len(seq))
    a = pairs(rows, torch.Generator().manual_seed(5))
    b = pairs(rows, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_data_without_sequences_is_a_clear_error() -> None:
    data = ImageTensors(
        images=torch.zeros(4, 3, 8, 8, dtype=torch.uint8),
        labels=torch.zeros(4, dtype=torch.int64),
        meta={"frame": torch.arange(4.0)},
        classes=["a"],
        name="flat.npz",
    )
    with pytest.raises(DataError, match=r"flat\.npz has no sequence metadata"):
        temporal_pairs(data, 2)
