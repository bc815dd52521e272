"""Module criticality: the rewind-and-noise search, mu by hand, an idle module, determinism."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from contrastlab.analysis.criticality import module_criticality
from contrastlab.analysis.interpolation import classification_evaluator
from contrastlab.core.errors import ContrastlabError


def bright_channel(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """8x8 images in two classes: the red (0) or the green (1) channel is the bright one."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.randint(0, 100, (n, 3, 8, 8), generator=g, dtype=torch.uint8)
    images[torch.arange(n), labels] += 120
    return images, labels


class TwoBranch(nn.Module):
    """A conv/BN/linear branch that decides, and a linear branch whose output is multiplied by 0."""

    def __init__(self) -> None:
        super().__init__()
        self.used = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4, 2),
        )
        self.unused = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.used(x) + 0.0 * self.unused(x.mean(dim=(2, 3)))


IMAGES, LABELS = bright_channel(64, 0)


def trained_pair() -> tuple[TwoBranch, dict[str, torch.Tensor]]:
    """The network after 30 Adam steps on the training images, and its initial state."""
    torch.manual_seed(0)
    net = TwoBranch()
    start = copy.deepcopy(net.state_dict())
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(30):
        loss = nn.functional.cross_entropy(net(IMAGES.float() / 255), LABELS)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        net.unused.weight.add_(1.0)  # it moved, but it cannot change the output
    return net.eval(), start


NET, START = trained_pair()
EVALUATE = classification_evaluator(IMAGES, LABELS)
GRID = {"sigmas": (0.01, 0.1, 1.0), "n_samples": 2}


def test_a_module_that_does_not_matter_is_less_critical_than_one_that_does() -> None:
    before = copy.deepcopy(NET.state_dict())
    used, unused = module_criticality(NET, START, EVALUATE, modules=["used", "unused"], **GRID)
    assert used.final == unused.final == 0.0  # the trained network separates the classes
    assert unused.distance > 0 and unused.rewind_alpha == 0.0
    assert unused.criticality == 0.0 and unused.argmin == (0.0, 0.01)
    assert all(value == unused.final for row in unused.values for value in row)
    assert used.values[0][0] >= 0.25  # rewound to its initial weights: far from solved
    assert used.rewind_alpha > 0.0 and used.criticality > unused.criticality
    assert all(torch.equal(v, before[k]) for k, v in NET.state_dict().items())


def test_no_noise_and_alpha_one_leave_the_metric_unchanged() -> None:
    loss_eval = module_criticality(NET, START, EVALUATE, key="loss", **GRID)
    assert [r.name for r in loss_eval] == ["used.0", "used.1", "used.5", "unused"]
    final_loss = EVALUATE(NET)["loss"]
    for result in loss_eval:
        assert result.sigmas == [0.0, 0.01, 0.1, 1.0] and result.alphas[-1] == 1.0
        assert result.values[0][-1] == result.final == final_loss


def test_the_search_is_deterministic_per_seed() -> None:
    first = module_criticality(NET, START, EVALUATE, modules=["used"], key="loss", **GRID)[0]
    again = module_criticality(NET, START, EVALUATE, modules=["used"], key="loss", **GRID)[0]
    other = module_criticality(NET, START, EVALUATE, modules=["used"], key="loss", seed=1, **GRID)
    assert first == again
    assert first.values[0] == other[0].values[0]  # no noise: the seed does not matter
    assert first.values[1:] != other[0].values[1:]


def test_mu_by_hand_on_one_weight() -> None:
    """w0 = 0, wF = 2 and error |w - 2|, threshold 0.6: without noise the error is 2 (1 - alpha),
    so alpha >= 0.75 is feasible; sigma 1e-3 keeps it, sigma 10 does not.
    mu = min alpha^2 2^2 / sigma^2 = 0.75^2 x 4 / 1e-6."""
    net = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(2.0)

    def error(model: nn.Sequential) -> dict[str, float]:
        return {"error": abs(float(model[0].weight.detach()) - 2.0)}

    (result,) = module_criticality(
        nn.Sequential(net),
        {"0.weight": torch.zeros(1, 1)},
        error,
        threshold=0.6,
        alphas=(0.0, 0.25, 0.5, 0.75, 1.0),
        sigmas=(1e-6, 1e-3, 10.0),
        n_samples=4,
    )
    assert result.name == "0" and result.distance == 2.0 and result.final == 0.0
    assert result.values[0] == [2.0, 1.5, 1.0, 0.5, 0.0]
    assert result.rewind_alpha == 0.75
    assert result.argmin == (0.75, 1e-3)
    assert result.criticality == pytest.approx(0.75**2 * 4 / 1e-6, rel=1e-12)
    assert min(result.values[3]) > 0.6  # sigma 10: never feasible
    assert float(net.weight.detach()) == 2.0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ContrastlabError, match="no module 'head'; modules: used"):
        module_criticality(NET, START, EVALUATE, modules=["head"])
    with pytest.raises(ContrastlabError, match="alphas must include 1"):
        module_criticality(NET, START, EVALUATE, alphas=(0.0, 0.5))
    with pytest.raises(ContrastlabError, match=r"alphas must be numbers in \[0, 1\]"):
        module_criticality(NET, START, EVALUATE, alphas=(0.0, 1.0, 1.5))
    with pytest.raises(ContrastlabError, match="sigmas must be positive"):
        module_criticality(NET, START, EVALUATE, sigmas=(0.0, 0.1))
    with pytest.raises(ContrastlabError, match=r"threshold must be a number >= 0, got -0\.1"):
        module_criticality(NET, START, EVALUATE, threshold=-0.1)
    partial = {k: v for k, v in START.items() if k != "unused.bias"}
    with pytest.raises(ContrastlabError, match=r"no entry 'unused\.bias' for module 'unused'"):
        module_criticality(NET, partial, EVALUATE, modules=["unused"])
    with pytest.raises(ContrastlabError, match="returned no 'top1'; it has"):
        module_criticality(NET, START, EVALUATE, key="top1")
