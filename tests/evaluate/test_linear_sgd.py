"""The SGD linear probe: separable features, top-5, determinism, augmented epochs, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate import linear_probe, sgd_linear_probe


def separable(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Four classes, each a Gaussian blob around a far-apart centre in 6-D."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 4
    centres = torch.eye(6)[:4] * 8
    return centres[labels] + torch.randn(n, 6, generator=gen), labels


def test_separable_features_reach_one() -> None:
    train, y_train = separable(400, 0)
    test, y_test = separable(200, 1)
    result = sgd_linear_probe(train, y_train, test, y_test, num_classes=4, epochs=10)
    assert result.top1 == 1.0 and result.top5 == 1.0
    assert np.isnan(result.c) and result.val_top1 == {}


def test_agrees_with_the_lbfgs_probe_on_noisy_features() -> None:
    """Overlapping blobs: both linear solvers end within a few points of each other."""
    gen = torch.Generator().manual_seed(2)
    labels = torch.arange(1200) % 3
    features = torch.eye(5)[:3][labels] * 1.5 + torch.randn(1200, 5, generator=gen)
    train, test = features[:800], features[800:]
    sgd = sgd_linear_probe(train, labels[:800], test, labels[800:], num_classes=3, epochs=30)
    lbfgs = linear_probe(train, labels[:800], test, labels[800:])
    assert 0.5 < lbfgs.top1 < 0.95
    assert sgd.top1 == pytest.approx(lbfgs.top1, abs=0.03)


def test_top5_counts_the_five_highest_scores() -> None:
    """Ten classes on a line of features: a probe trained on classes it can separate only
    roughly still ranks the true class among the top five far more often than first."""
    gen = torch.Generator().manual_seed(3)
    labels = torch.arange(2000) % 10
    features = labels[:, None].float() + 2.0 * torch.randn(2000, 1, generator=gen)
    result = sgd_linear_probe(
        features[:1500], labels[:1500], features[1500:], labels[1500:], num_classes=10, epochs=20
    )
    assert result.top1 < 0.4 and result.top5 > result.top1 + 0.3


def test_deterministic_for_a_seed() -> None:
    train, y_train = separable(100, 4)
    gen = torch.Generator().manual_seed(5)
    noisy = train + 6 * torch.randn(100, 6, generator=gen)
    runs = [
        sgd_linear_probe(noisy, y_train, noisy, y_train, num_classes=4, epochs=3, seed=s)
        for s in (7, 7)
    ]
    assert runs[0].top1 == runs[1].top1 and runs[0].top5 == runs[1].top5


def test_augmented_features_are_drawn_every_epoch_with_the_probe_generator() -> None:
    train, y_train = separable(64, 6)
    draws: list[float] = []

    def augmented(generator: torch.Generator) -> torch.Tensor:
        noise = torch.randn(train.shape, generator=generator)
        draws.append(float(noise[0, 0]))
        return train + 0.1 * noise

    result = sgd_linear_probe(
        train,
        y_train,
        train,
        y_train,
        num_classes=4,
        epochs=4,
        batch_size=8,
        lr=8.0,  # x 8 / 256: 0.25 per step
        augmented_features=augmented,
    )
    assert len(draws) == 4 and len(set(draws)) == 4  # a fresh view each epoch
    assert result.top1 == 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"lr": 0.0}, "lr must be > 0"),
        ({"num_classes": 3}, "num_classes=3 does not cover"),
    ],
)
def test_bad_input(change: dict[str, object], message: str) -> None:
    train, y_train = separable(20, 0)
    kwargs: dict[str, object] = {"num_classes": 4, **change}
    with pytest.raises(ContrastlabError, match=message):
        sgd_linear_probe(train, y_train, train, y_train, **kwargs)  # type: ignore[arg-type]
