"""Interpolation between two solutions: the mixed state, BN statistics, the curve, the barrier."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from contrastlab.analysis.interpolation import (
    barrier_height,
    classification_evaluator,
    interpolate_state,
    interpolation_curve,
    reestimate_batchnorm,
)
from contrastlab.core.errors import ContrastlabError


def bright_channel(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """8x8 images in two classes: the red (0) or the green (1) channel is the bright one."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.randint(0, 100, (n, 3, 8, 8), generator=g, dtype=torch.uint8)
    images[torch.arange(n), labels] += 120
    return images, labels


TRAIN, TEST = bright_channel(64, 0), bright_channel(32, 1)


def tiny_net(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.BatchNorm2d(3),
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 2),
    )


def trained(seed: int, steps: int = 12) -> nn.Sequential:
    net = tiny_net(seed)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.2, momentum=0.9)
    g = torch.Generator().manual_seed(seed)
    images, labels = TRAIN
    for _ in range(steps):
        rows = torch.randperm(len(labels), generator=g)[:16]
        loss = nn.functional.cross_entropy(net(images[rows].float() / 255), labels[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.eval()


def test_interpolate_state_mixes_floats_linearly_and_takes_integers_from_the_nearer_end() -> None:
    a = {"w": torch.tensor([0.0, 2.0]), "b": torch.tensor([[1.0]]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([4.0, 6.0]), "b": torch.tensor([[3.0]]), "n": torch.tensor(7)}
    mid = interpolate_state(a, b, 0.5)
    assert list(mid) == ["w", "b", "n"]
    assert mid["w"].tolist() == [2.0, 4.0] and mid["b"].tolist() == [[2.0]]
    assert int(mid["n"]) == 3
    quarter = interpolate_state(a, b, 0.75)
    assert quarter["w"].tolist() == [3.0, 5.0] and int(quarter["n"]) == 7
    assert interpolate_state(a, b, 1.5)["w"].tolist() == [6.0, 8.0]  # extrapolation
    for alpha, end in ((0.0, a), (1.0, b)):
        state = interpolate_state(a, b, alpha)
        assert all(torch.equal(state[k], end[k]) for k in end)
        assert state["w"].data_ptr() != end["w"].data_ptr()  # copies, not views


def test_interpolate_state_names_the_first_key_that_differs() -> None:
    a = {"w": torch.zeros(2), "extra": torch.zeros(1)}
    with pytest.raises(ContrastlabError, match="'extra' is in the first only"):
        interpolate_state(a, {"w": torch.zeros(2)}, 0.5)
    with pytest.raises(ContrastlabError, match="'more' is in the second only"):
        interpolate_state({"w": torch.zeros(2)}, {"w": torch.zeros(2), "more": torch.ones(1)}, 0.5)
    with pytest.raises(ContrastlabError, match=r"shape of 'w': \(2,\) vs \(3,\)"):
        interpolate_state({"w": torch.zeros(2)}, {"w": torch.zeros(3)}, 0.5)
    with pytest.raises(ContrastlabError, match="dtype of 'w'"):
        interpolate_state({"w": torch.zeros(2)}, {"w": torch.zeros(2, dtype=torch.int64)}, 0.5)
    with pytest.raises(ContrastlabError, match="alpha must be a finite number, got nan"):
        interpolate_state(a, a, math.nan)


def test_reestimate_batchnorm_gives_the_mean_and_variance_of_the_inputs() -> None:
    net = tiny_net(0).eval()
    params = [p.detach().clone() for p in net.parameters()]
    images = TRAIN[0]
    x = images.double() / 255
    assert reestimate_batchnorm(net, images, batch_size=len(images)) == 2
    first = net[0]
    assert isinstance(first, nn.BatchNorm2d)
    torch.testing.assert_close(
        first.running_mean.double(), x.mean(dim=(0, 2, 3)), rtol=0, atol=1e-6
    )
    torch.testing.assert_close(
        first.running_var.double(), x.var(dim=(0, 2, 3), unbiased=True), rtol=0, atol=1e-6
    )
    assert first.momentum == 0.1 and int(first.num_batches_tracked) == 1
    assert not any(m.training for m in net.modules())  # modes restored
    assert all(
        torch.equal(p, q) and p.grad is None for p, q in zip(net.parameters(), params, strict=True)
    )

    # four equal batches: the mean is still exact, the variance is the mean batch variance
    reestimate_batchnorm(net, images, batch_size=16)
    batches = x.split(16)
    torch.testing.assert_close(
        first.running_mean.double(), x.mean(dim=(0, 2, 3)), rtol=0, atol=1e-6
    )
    batch_var = torch.stack([b.var(dim=(0, 2, 3)) for b in batches]).mean(0)
    torch.testing.assert_close(first.running_var.double(), batch_var, rtol=0, atol=1e-6)
    assert int(first.num_batches_tracked) == 4


def test_reestimate_batchnorm_turns_dropout_off_and_restores_train_mode() -> None:
    net = nn.Sequential(nn.Dropout(0.5), nn.BatchNorm2d(3)).train()
    images = TRAIN[0]
    reestimate_batchnorm(net, images, batch_size=64)
    mean = (images.double() / 255).mean(dim=(0, 2, 3))
    torch.testing.assert_close(net[1].running_mean.double(), mean, rtol=0, atol=1e-6)
    assert all(m.training for m in net.modules())
    assert reestimate_batchnorm(nn.Sequential(nn.Conv2d(3, 2, 1)), images) == 0
    with pytest.raises(ContrastlabError, match="uint8"):
        reestimate_batchnorm(net, images.float())
    with pytest.raises(ContrastlabError, match="batch_size must be at least 1, got 0"):
        reestimate_batchnorm(net, images, batch_size=0)


def test_classification_evaluator_by_hand() -> None:
    model = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())  # logits: channel means
    images = torch.zeros(3, 3, 2, 2, dtype=torch.uint8)
    images[0, 0] = 255  # logits (1, 0, 0), label 0: right
    images[1, 1], images[1, 2] = 51, 102  # logits (0, .2, .4), label 1: wrong
    labels = torch.tensor([0, 1, 2])  # image 2: logits all 0, the tie goes to class 0: wrong
    metrics = classification_evaluator(images, labels, batch_size=2)(model)
    losses = [
        math.log(math.e + 2) - 1,
        math.log(1 + math.exp(0.2) + math.exp(0.4)) - 0.2,
        math.log(3),
    ]
    assert metrics["accuracy"] == pytest.approx(1 / 3)
    assert metrics["error"] == pytest.approx(2 / 3)
    assert metrics["loss"] == pytest.approx(sum(losses) / 3, rel=1e-6)
    with pytest.raises(ContrastlabError, match="num_classes=3 does not cover"):
        classification_evaluator(images, torch.tensor([0, 1, 5]))(model)


def test_curve_endpoints_reproduce_the_endpoint_models_exactly() -> None:
    net_a, net_b = trained(0), trained(1)
    evaluate = classification_evaluator(*TEST, batch_size=16)
    vessel = tiny_net(7)
    own = copy.deepcopy(vessel.state_dict())
    state_a, state_b = net_a.state_dict(), net_b.state_dict()

    curve = interpolation_curve(vessel, state_a, state_b, [0.0, 0.5, 1.0], evaluate)
    assert [row["alpha"] for row in curve] == [0.0, 0.5, 1.0]
    assert curve[0] == {"alpha": 0.0, **evaluate(net_a)}
    assert curve[-1] == {"alpha": 1.0, **evaluate(net_b)}
    assert all(torch.equal(v, own[k]) for k, v in vessel.state_dict().items())

    bn_images = TRAIN[0]
    ends = []
    for net in (net_a, net_b):
        reestimate_batchnorm(net, bn_images, batch_size=16)
        ends.append(evaluate(net))
    curve = interpolation_curve(
        vessel, state_a, state_b, [0.0, 0.5, 1.0], evaluate, bn_images=bn_images, batch_size=16
    )
    assert curve[0] == {"alpha": 0.0, **ends[0]} and curve[-1] == {"alpha": 1.0, **ends[1]}
    assert barrier_height(curve) >= 0.0

    same = interpolation_curve(vessel, state_a, state_a, [0.0, 0.5, 1.0], evaluate)
    assert same[0]["loss"] == same[1]["loss"] == same[2]["loss"]
    assert barrier_height(same) == 0.0
    with pytest.raises(ContrastlabError, match="at least one alpha"):
        interpolation_curve(vessel, state_a, state_b, [], evaluate)


def test_barrier_height_by_hand() -> None:
    alphas = [0.0, 0.25, 0.5, 0.75, 1.0]
    bump = [{"alpha": a, "loss": v} for a, v in zip(alphas, [1.0, 2.0, 3.5, 2.5, 2.0], strict=True)]
    assert barrier_height(bump) == 2.0  # the chord is 1 + a: rises 0.75, 2.0, 0.75
    line = [{"alpha": a, "loss": 1.0 + 2.0 * a} for a in alphas]
    assert barrier_height(line) == 0.0
    valley = [{"alpha": a, "loss": (a - 0.5) ** 2} for a in alphas]
    assert barrier_height(valley) == 0.0
    accuracy = [0.9, 0.6, 0.5, 0.8, 0.9]
    rows = [
        {"alpha": a, "accuracy": v, "error": 1 - v} for a, v in zip(alphas, accuracy, strict=True)
    ]
    assert barrier_height(rows, "error") == pytest.approx(0.4)
    assert barrier_height(rows, "accuracy", higher_is_better=True) == pytest.approx(0.4)
    shuffled = [bump[2], bump[4], bump[0], bump[1], bump[3]]
    assert barrier_height(shuffled) == 2.0
    outside = [*bump, {"alpha": 1.5, "loss": 100.0}]
    assert barrier_height(outside) == 2.0


def test_barrier_height_refuses_incomplete_curves() -> None:
    with pytest.raises(ContrastlabError, match="endpoint alpha=1"):
        barrier_height([{"alpha": 0.0, "loss": 1.0}, {"alpha": 0.5, "loss": 2.0}])
    with pytest.raises(ContrastlabError, match="needs 'error'"):
        barrier_height([{"alpha": 0.0, "loss": 1.0}], "error")
    with pytest.raises(ContrastlabError, match=r"alpha=0\.0 twice"):
        barrier_height([{"alpha": 0.0, "loss": 1.0}, {"alpha": 0.0, "loss": 2.0}])
    with pytest.raises(ContrastlabError, match="got none"):
        barrier_height([])
