"""The non-finite guard's pieces: the gradient norm, the first non-finite entry, and the copy of
what a forward pass changes (undone when a step is skipped)."""

from __future__ import annotations

import math

import torch
from torch import nn

from contrastlab.train.guard import (
    first_nonfinite,
    forward_state,
    gradient_norm,
    restore_forward_state,
)


class Momentum(nn.Module):
    """A trained layer, a frozen copy (like MoCo's key encoder), batch norm and a queue."""

    def __init__(self) -> None:
        super().__init__()
        self.online = nn.Linear(3, 2)
        self.key = nn.Linear(3, 2).requires_grad_(False)
        self.norm = nn.BatchNorm1d(2)
        self.register_buffer("queue", torch.zeros(4, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            self.key.weight.mul_(0.5).add_(0.5 * self.online.weight)
            self.queue.copy_(torch.roll(self.queue, 1, 0))
            self.queue[0] = self.key(x).mean(0)
        return self.norm(self.online(x)).sum()


def test_gradient_norm_is_the_norm_of_all_gradients_together() -> None:
    a, b = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(1))
    a.grad, b.grad = torch.tensor([3.0, 0.0]), torch.tensor([4.0])
    assert gradient_norm([a, b]) == 5.0
    b.grad = torch.tensor([float("inf")])
    assert math.isinf(gradient_norm([a, b]))
    a.grad = torch.tensor([float("nan"), 0.0])
    assert math.isnan(gradient_norm([a, b]))
    assert gradient_norm([nn.Parameter(torch.zeros(1))]) == 0.0  # no gradients yet


def test_first_nonfinite_names_the_parameter_or_optimiser_entry() -> None:
    model = Momentum()
    optimizer = torch.optim.SGD(model.online.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 3)).backward()
    optimizer.step()
    params = list(model.named_parameters())
    assert first_nonfinite(params, optimizer.state_dict()["state"]) is None
    optimizer.state_dict()  # the momentum buffers are live tensors: poison one
    buffer = optimizer.state[model.online.bias]["momentum_buffer"]
    buffer[0] = float("nan")
    found = first_nonfinite(params, optimizer.state_dict()["state"])
    assert found == "optimiser state 'momentum_buffer' of parameter #1"
    with torch.no_grad():
        model.online.weight[0, 0] = float("inf")
    assert first_nonfinite(model.named_parameters(), {}) == "parameter online.weight"


def test_restore_forward_state_undoes_a_forward_but_not_the_trained_weights() -> None:
    torch.manual_seed(0)
    model = Momentum()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    saved = forward_state(model)
    trained = {"online.weight", "online.bias", "norm.weight", "norm.bias"}
    assert set(saved) == set(before) - trained
    model(torch.randn(4, 3))
    with torch.no_grad():
        model.online.weight.add_(1.0)  # what an optimiser step would do: not undone
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert {"key.weight", "queue", "norm.running_mean", "online.weight"} <= set(changed)
    restore_forward_state(model, saved)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]) == (key != "online.weight"), key
