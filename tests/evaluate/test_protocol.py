"""evaluate_encoder: both protocols on one encoder, its result dict and its input checks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate import (
    EvalResult,
    evaluate_encoder,
    extract_features,
    knn_accuracy,
    linear_probe,
)


def encoder() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()
    )


def labelled_images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes told apart by which colour channel is bright."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    images = torch.randint(0, 100, (n, 3, 8, 8), generator=g, dtype=torch.uint8)
    images[torch.arange(n), labels] += 150
    return images, labels


KEYS = ["knn_top1", "linear_top1", "linear_c", "n_train", "n_test", "feature_dim"]


def test_runs_both_protocols_on_the_frozen_features() -> None:
    (train_x, train_y), (test_x, test_y) = labelled_images(60, 0), labelled_images(30, 1)
    net = encoder().train()
    result = evaluate_encoder(
        net, train_x, train_y, test_x, test_y, num_classes=3, k=10, seed=2, batch_size=7
    )
    assert net.training  # mode restored

    train_f, test_f = extract_features(net, train_x), extract_features(net, test_x)
    knn = knn_accuracy(train_f, train_y, test_f, test_y, num_classes=3, k=10)
    probe = linear_probe(train_f, train_y, test_f, test_y, seed=2)
    assert result == EvalResult(
        knn_top1=knn,
        linear_top1=probe.top1,
        linear_c=probe.c,
        n_train=60,
        n_test=30,
        feature_dim=8,
    )
    assert result.linear_top1 > 0.9  # the task is easy even for a random conv net


def test_as_dict_keys_and_prefix() -> None:
    result = EvalResult(
        knn_top1=0.5, linear_top1=0.75, linear_c=0.1, n_train=10, n_test=4, feature_dim=3
    )
    assert list(result.as_dict()) == KEYS
    assert result.as_dict("random_") == {
        "random_knn_top1": 0.5,
        "random_linear_top1": 0.75,
        "random_linear_c": 0.1,
        "random_n_train": 10,
        "random_n_test": 4,
        "random_feature_dim": 3,
    }


def test_class_only_in_test_set_is_allowed() -> None:
    (train_x, train_y), (test_x, _) = labelled_images(30, 0), labelled_images(6, 1)
    test_y = torch.tensor([0, 1, 2, 3, 3, 3])  # class 3 never seen in training
    result = evaluate_encoder(encoder(), train_x, train_y, test_x, test_y, num_classes=4, k=5)
    assert result.knn_top1 <= 0.5 and result.linear_top1 <= 0.5


class MustNotRun(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise AssertionError("inputs must be checked before features are extracted")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"train_labels": torch.tensor([-1] * 3 + [0] * 17)},
            "^evaluation needs labelled data: 3 of 20 training samples have no label$",
        ),
        (
            {"test_labels": torch.tensor([0, -1, -1, 1, 2])},
            "^evaluation needs labelled data: 2 of 5 test samples have no label$",
        ),
        ({"num_classes": 2}, r"^num_classes=2 does not cover the training labels \(largest"),
        ({"train_labels": torch.zeros(19, dtype=torch.long)}, "20 samples but 19 labels"),
        (
            {
                "test_images": torch.zeros(0, 3, 8, 8, dtype=torch.uint8),
                "test_labels": torch.zeros(0, dtype=torch.long),
            },
            "at least one test sample",
        ),
        ({"train_images": torch.zeros(20, 3, 8, 8)}, "training images must be a uint8 tensor"),
        (
            {"test_images": torch.zeros(5, 3, 9, 9, dtype=torch.uint8)},
            r"differ in shape: \(3, 8, 8\) vs \(3, 9, 9\)",
        ),
    ],
)
def test_errors_are_raised_before_any_work(change: dict[str, object], message: str) -> None:
    kwargs: dict[str, object] = {
        "encoder": MustNotRun(),
        "train_images": torch.zeros(20, 3, 8, 8, dtype=torch.uint8),
        "train_labels": torch.arange(20) % 3,
        "test_images": torch.zeros(5, 3, 8, 8, dtype=torch.uint8),
        "test_labels": torch.tensor([0, 1, 2, 0, 1]),
        "num_classes": 3,
    }
    kwargs.update(change)
    with pytest.raises(ContrastlabError, match=message):
        evaluate_encoder(**kwargs)  # type: ignore[arg-type]
