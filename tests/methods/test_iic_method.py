"""IIC: alternating heads, sub-heads, sample repeats, lowest-loss sub-head selection, and
Hungarian-matched accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contrastlab.evaluate import hungarian_accuracy
from contrastlab.losses import iic_loss
from contrastlab.methods import IIC, build_method

from .conftest import image_batch, tiny_recipe

RECIPE = "iic_resnet18w0.125_digits_200e"


def iic(**overrides: object) -> IIC:
    method = build_method(tiny_recipe(RECIPE, method__classes=4, **overrides))
    assert isinstance(method, IIC)
    return method


def test_heads_alternate_in_the_configured_ratio() -> None:
    method = iic(method__iic__head_a_steps=1, method__iic__head_b_steps=2)
    seen = []
    g = torch.Generator().manual_seed(0)
    for _ in range(6):
        seen.append(method.current_head())
        method(image_batch(channels=1), g)
    assert seen == ["a", "b", "b", "a", "b", "b"]
    assert iic(method__iic__overclusters=0).current_head() == "b"


def test_loss_is_the_mean_over_subheads_of_repeated_pairs() -> None:
    method = iic(method__iic__repeats=2, method__iic__subheads=3)
    method.eval()
    method.get_buffer("step").fill_(1)  # head B's turn
    batch = image_batch(channels=1)
    state = torch.Generator().manual_seed(4).get_state()
    loss, _ = method(batch, torch.Generator().set_state(state))
    g = torch.Generator().set_state(state)
    anchors = method.views(batch["image"], g)
    copies = [method.views(batch["image"], g) for _ in range(2)]
    expected = []
    for head in method.head_b.heads:
        p = head(method.encoder(anchors)).softmax(1)
        p_prime = torch.cat([head(method.encoder(c)).softmax(1) for c in copies])
        expected.append(iic_loss(torch.cat([p, p]), p_prime))
    torch.testing.assert_close(loss, torch.stack(expected).mean(), rtol=1e-4, atol=1e-5)
    assert method.head_b(torch.zeros(5, method.encoder.feature_dim)).shape == (3, 5, 4)


def test_lowest_loss_subhead_is_reported() -> None:
    method = iic(method__iic__subheads=3)
    method.get_buffer("subhead_loss").copy_(torch.tensor([-0.5, -1.5, -1.0]))
    # Sub-head 1 puts everything in cluster 0; sub-heads 0 and 2 copy the label (bias only).
    images = torch.zeros(8, 1, 16, 16, dtype=torch.uint8)
    labels = torch.arange(8) % 4
    assignments = torch.stack([labels, torch.zeros(8, dtype=torch.long), labels])
    method.assign = lambda *a, **k: assignments  # type: ignore[method-assign]
    metrics = method.cluster_metrics(images, labels, device=torch.device("cpu"))
    assert metrics["cluster_subhead"] == 1 and metrics["cluster_top1"] == 0.25
    assert metrics["cluster_top1_best"] == 1.0
    assert metrics["cluster_top1_mean"] == pytest.approx(0.75)
    assert metrics["cluster_top1_std"] == pytest.approx(np.std([1.0, 0.25, 1.0]))


def test_sobel_input_has_two_channels() -> None:
    rgb = {"data__channels": 3, "data__mean": [0.5] * 3, "data__std": [0.5] * 3}
    method = iic(method__iic__sobel=True, **rgb)
    out = method.encoder(torch.rand(2, 3, 16, 16))
    assert out.shape == (2, method.encoder.feature_dim)
    flat = method.encoder(torch.full((2, 3, 16, 16), 0.3))  # no gradient anywhere: same features
    torch.testing.assert_close(flat[0], flat[1])


def test_hungarian_accuracy_known_values() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    assert hungarian_accuracy(np.array([2, 2, 0, 0, 1, 1]), labels) == 1.0  # relabelled
    # Clusters {0,0,1 | 1,2,2}: best one-to-one map 0->0, 1->2 gets 2 + 2 of 6 right.
    assert hungarian_accuracy(np.array([0, 0, 0, 1, 1, 1]), labels) == pytest.approx(4 / 6)
    # Surplus clusters map to nothing: 3 singleton-ish clusters beyond the classes.
    assert hungarian_accuracy(np.array([0, 3, 1, 4, 2, 5]), labels) == pytest.approx(3 / 6)
    rng = np.random.default_rng(0)
    perm = rng.permutation(10)
    y = rng.integers(0, 10, 500)
    assert hungarian_accuracy(perm[y], y) == 1.0
