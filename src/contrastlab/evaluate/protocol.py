"""Both frozen-feature protocols on one encoder: weighted kNN and a linear probe (the two that
run at the end of every training; :mod:`contrastlab.evaluate.suite` runs any set of protocols).

Features of a labelled training split form the memory bank / probe training set, features of a
held-out split are the queries (Wu et al. 2018 for kNN; Chen et al. 2020, appendix B.5 for the
linear probe). The same call on a randomly initialised copy of the encoder gives the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor, nn

from contrastlab.config.evaluation import EvalConfig
from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_images, check_labels
from contrastlab.evaluate.suite import EvalData, SuiteOptions, run_protocols

__all__ = ["EvalResult", "evaluate_encoder"]


@dataclass
class EvalResult:
    """Scores of one encoder under both protocols (accuracies are fractions in [0, 1])."""

    knn_top1: float
    linear_top1: float
    linear_c: float
    n_train: int
    n_test: int
    feature_dim: int

    def as_dict(self, prefix: str = "") -> dict[str, float | int]:
        """The fields as a flat dict, each key prefixed: ``"random_"`` -> ``"random_knn_top1"``."""
        return {prefix + f.name: getattr(self, f.name) for f in fields(self)}


def evaluate_encoder(
    encoder: nn.Module,
    train_images: Tensor,
    train_labels: Tensor,
    test_images: Tensor,
    test_labels: Tensor,
    *,
    num_classes: int,
    device: torch.device | str = "cpu",
    k: int = 200,
    temperature: float = 0.1,
    seed: int = 0,
    batch_size: int = 512,
    channels_last: bool = False,
) -> EvalResult:
    """Extract frozen features of both splits and score them by weighted kNN and a linear probe.

    Images are uint8 (N, C, H, W) on CPU; labels are integers in ``range(num_classes)`` (a
    negative label means "unlabelled" and is an error). The encoder must already be on
    ``device``; it runs in eval mode and gets its modes back afterwards (see
    :func:`extract_features`). The kNN vote runs on ``device`` too; the linear probe runs on CPU
    with scikit-learn (see :func:`linear_probe`, seeded by ``seed``). All inputs are checked
    before any feature is computed.
    """
    check_images(train_images, what="training images")
    check_images(test_images, what="test images")
    y_train = check_labels(
        train_labels, train_images.shape[0], split="training", num_classes=num_classes
    )
    y_test = check_labels(test_labels, test_images.shape[0], split="test", num_classes=num_classes)
    if train_images.shape[1:] != test_images.shape[1:]:
        raise ContrastlabError(
            "training and test images differ in shape: "
            f"{tuple(train_images.shape[1:])} vs {tuple(test_images.shape[1:])}"
        )

    config = EvalConfig(
        protocols=("knn", "linear"), batch_size=batch_size, knn_k=k, knn_temperature=temperature
    )
    config.validate()
    options = SuiteOptions(device=device, seed=seed, channels_last=channels_last)
    data = EvalData(train_images, y_train, test_images, y_test, num_classes)
    figures = run_protocols(encoder, data, config, options)
    return EvalResult(
        knn_top1=figures["knn_top1"],
        linear_top1=figures["linear_top1"],
        linear_c=figures["linear_c"],
        n_train=figures["n_train"],
        n_test=figures["n_test"],
        feature_dim=figures["feature_dim"],
    )
