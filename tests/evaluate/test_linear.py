"""Linear probe (SimCLR appendix B.5 protocol) against scikit-learn and its known properties."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate import knn_accuracy, linear_probe


def clusters(
    seed: int, n: int, num_classes: int = 3, dim: int = 10, spread: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian clusters whose means are 8 apart along distinct axes."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(num_classes).repeat(n // num_classes + 1)[:n]
    features = torch.randn(n, dim, generator=g) * spread
    features[torch.arange(n), labels] += 8.0
    return features, labels


def test_separable_clusters_are_classified_perfectly_and_ties_pick_the_smaller_c() -> None:
    train, y_train = clusters(0, 300)
    test, y_test = clusters(1, 150)
    result = linear_probe(train, y_train, test, y_test, cs=(10.0, 0.1, 1.0))
    assert result.top1 == 1.0
    assert list(result.val_top1) == [0.1, 1.0, 10.0]
    assert all(acc == 1.0 for acc in result.val_top1.values())
    assert result.c == 0.1  # every C ties at 1.0 -> the smallest


def test_chance_on_random_labels() -> None:
    g = torch.Generator().manual_seed(0)
    num_classes, n_test = 3, 900
    train, test = torch.randn(600, 20, generator=g), torch.randn(n_test, 20, generator=g)
    y_train = torch.randint(0, num_classes, (600,), generator=g)
    y_test = torch.randint(0, num_classes, (n_test,), generator=g)
    result = linear_probe(train, y_train, test, y_test)
    p = 1 / num_classes
    assert abs(result.top1 - p) < 5 * math.sqrt(p * (1 - p) / n_test)
    assert result.c in (0.01, 0.1, 1.0, 10.0)


def test_matches_scikit_learn_directly() -> None:
    train, y_train = clusters(2, 240, num_classes=4, spread=4.0)
    test, y_test = clusters(3, 200, num_classes=4, spread=4.0)
    result = linear_probe(train, y_train, test, y_test, cs=(0.05,))
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=1000))
    reference.fit(train.double().numpy(), y_train.numpy())
    assert result.c == 0.05
    assert result.top1 == reference.score(test.double().numpy(), y_test.numpy())
    assert 0.5 < result.top1 < 1.0  # overlapping clusters: a real test, not a trivial one


def test_chosen_c_is_the_best_on_validation() -> None:
    train, y_train = clusters(4, 300, num_classes=3, spread=5.0)
    test, y_test = clusters(5, 150, num_classes=3, spread=5.0)
    result = linear_probe(train, y_train, test, y_test, cs=(1e-4, 1e-2, 1.0, 100.0))
    best = max(result.val_top1.values())
    assert result.val_top1[result.c] == best
    assert all(c > result.c for c, acc in result.val_top1.items() if acc == best and c != result.c)


def test_deterministic_given_seed() -> None:
    train, y_train = clusters(6, 200, spread=4.0)
    test, y_test = clusters(7, 100, spread=4.0)
    first = linear_probe(train, y_train, test, y_test, seed=3)
    second = linear_probe(train.clone(), y_train.clone(), test, y_test, seed=3)
    assert first == second


def test_beats_knn_when_one_informative_dimension_is_buried_in_noise() -> None:
    # Dimension 0 carries the class (+-1, noise 0.1); 63 dimensions of noise with std 10 dominate
    # the cosine, so kNN is near chance, while standardisation + a linear model find dimension 0.
    g = torch.Generator().manual_seed(0)

    def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(0, 2, (n,), generator=g)
        features = torch.randn(n, 64, generator=g) * 10
        features[:, 0] = (labels * 2 - 1) + 0.1 * torch.randn(n, generator=g)
        return features, labels

    (train, y_train), (test, y_test) = make(600), make(400)
    knn = knn_accuracy(train, y_train, test, y_test, num_classes=2, k=200)
    probe = linear_probe(train, y_train, test, y_test)
    assert knn < 0.65
    assert probe.top1 > 0.95


def test_convergence_warnings_are_silenced() -> None:
    train, y_train = clusters(8, 120, spread=3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = linear_probe(train, y_train, train, y_train, max_iter=1)
    assert 0.0 <= result.top1 <= 1.0


def test_numpy_inputs_and_single_sample_classes() -> None:
    train, y_train = clusters(9, 90)
    # One extra class with a single training sample: it cannot be stratified, so it stays in
    # the fitting part of the validation split instead of failing.
    train = torch.cat([train, torch.full((1, 10), -8.0)])
    y_train = torch.cat([y_train, torch.tensor([3])])
    test, y_test = clusters(10, 60)
    result = linear_probe(train.numpy(), y_train.numpy(), test.numpy(), y_test.numpy())
    assert result.top1 == 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"train_labels": torch.tensor([0, 1, -1, 1, 0, 1, 0, 1, 0, -1])},
            "evaluation needs labelled data: 2 of 10 training samples have no label",
        ),
        ({"test_labels": torch.tensor([-1, 0])}, "1 of 2 test samples have no label"),
        ({"train_labels": torch.zeros(10, dtype=torch.long)}, "at least 2 classes"),
        ({"test_features": torch.ones(2, 4)}, "differ in dimension: 3 vs 4"),
        ({"cs": ()}, "cs must be a non-empty list of positive numbers"),
        ({"cs": (0.0, 1.0)}, "cs must be a non-empty list of positive numbers"),
        ({"val_fraction": 1.0}, "val_fraction must be strictly between 0 and 1"),
        ({"max_iter": 0}, "max_iter must be at least 1"),
        ({"val_fraction": 0.05}, "too few training samples for the linear probe's validation"),
    ],
)
def test_errors(change: dict[str, object], message: str) -> None:
    kwargs: dict[str, object] = {
        "train_features": torch.randn(10, 3, generator=torch.Generator().manual_seed(0)),
        "train_labels": torch.tensor([0, 1] * 5),
        "test_features": torch.ones(2, 3),
        "test_labels": torch.tensor([0, 1]),
    }
    kwargs.update(change)
    with pytest.raises(ContrastlabError, match=message):
        linear_probe(**kwargs)  # type: ignore[arg-type]


def test_result_fields_are_plain_python() -> None:
    train, y_train = clusters(11, 60)
    result = linear_probe(train, y_train, train, y_train, cs=(1.0,))
    assert type(result.top1) is float and type(result.c) is float
    assert all(type(k) is float and type(v) is float for k, v in result.val_top1.items())
    assert np.isclose(result.top1, 1.0)


def test_blas_thread_limit_is_lifted_afterwards() -> None:
    before = [pool["num_threads"] for pool in threadpool_info()]
    train, y_train = clusters(12, 60)
    linear_probe(train, y_train, train, y_train, cs=(1.0,))
    assert [pool["num_threads"] for pool in threadpool_info()] == before
