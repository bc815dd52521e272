"""Parameter-space distance between two models: known answers and the checks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from contrastlab.analysis.parameter_distance import parameter_distance, parameters_of
from contrastlab.core.errors import ContrastlabError


def test_known_distance_over_all_tensors() -> None:
    a = {"w": torch.zeros(2, 2), "b": torch.zeros(3)}
    b = {"w": torch.full((2, 2), 1.0), "b": torch.tensor([0.0, 3.0, 0.0])}
    # four ones and one three: sqrt(4 + 9)
    assert parameter_distance(a, b) == pytest.approx(math.sqrt(13.0))
    assert parameter_distance(b, a) == pytest.approx(math.sqrt(13.0))
    assert parameter_distance(a, a) == 0.0


def test_integer_tensors_are_skipped() -> None:
    a = {"w": torch.tensor([1.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([4.0]), "n": torch.tensor(100)}
    assert parameter_distance(a, b) == pytest.approx(3.0)


def test_parameters_leave_out_buffers() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    names = set(parameters_of(model))
    assert names == {"0.weight", "0.bias", "1.weight", "1.bias"}
    other = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    with torch.no_grad():
        for p, q in zip(model.parameters(), other.parameters(), strict=True):
            q.copy_(p + 0.5)  # every one of the 6 + 2 + 2 + 2 = 12 entries moved by 0.5
        other[1].running_mean.fill_(10.0)  # a buffer: not counted
    assert parameter_distance(parameters_of(model), parameters_of(other)) == pytest.approx(
        math.sqrt(12 * 0.25)
    )


def test_different_layouts_are_refused() -> None:
    with pytest.raises(ContrastlabError, match="differ in their tensors: b"):
        parameter_distance({"w": torch.zeros(1)}, {"w": torch.zeros(1), "b": torch.zeros(1)})
    with pytest.raises(ContrastlabError, match="shape"):
        parameter_distance({"w": torch.zeros(2)}, {"w": torch.zeros(3)})
