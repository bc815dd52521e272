"""Weighted k-nearest-neighbour classification of frozen features.

The classifier of Wu et al. 2018, "Unsupervised Feature Learning via Non-Parametric Instance
Discrimination" (InstDisc, section 3.4), as used by the kNN monitor of the MoCo CIFAR-10 demo:
features are L2-normalised, similarity is the cosine, and each of the ``k`` most similar training
samples votes for its class with weight ``exp(sim / temperature)``; the class with the largest
total weight is the prediction.

Ties are broken deterministically:

* similarity ties at the k-th neighbour go to the training sample that comes first in the
  training set (a stable sort decides, for the queries where such a tie occurs);
* ties between class totals go to the smallest class index (``torch.argmax`` returns the first
  maximum).

The weights are computed as ``exp((sim - max_sim) / temperature)``: the common factor
``exp(-max_sim / temperature)`` does not change the vote, and it keeps small temperatures from
overflowing float32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from contrastlab.errors import ContrastlabError
from contrastlab.evaluate._checks import check_features, check_labels, check_same_width

__all__ = ["knn_accuracy", "knn_predict"]


def _neighbours(sim: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` largest similarities per row and their column indices, ties to the lower index."""
    values, indices = sim.topk(k, dim=1)
    # Rows where samples tied with the k-th neighbour straddle the cut-off: topk's choice among
    # them is unspecified, so re-rank those rows with a stable sort (lower index first).
    ambiguous = (sim >= values[:, -1:]).sum(dim=1) > k
    if bool(ambiguous.any()):
        rows = ambiguous.nonzero().squeeze(1)
        order = sim[rows].sort(dim=1, descending=True, stable=True)
        values[rows] = order.values[:, :k]
        indices[rows] = order.indices[:, :k]
    return values, indices


def knn_predict(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    *,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.1,
    chunk_size: int = 1024,
) -> Tensor:
    """Predict a class for each test feature by a weighted vote of its k nearest training samples.

    Features are L2-normalised and compared by cosine similarity; the ``k`` most similar training
    samples vote with weight ``exp(sim / temperature)`` (Wu et al. 2018). ``k`` is clipped to the
    number of training samples. Queries are processed ``chunk_size`` at a time, so memory is
    O(chunk_size x N_train). Computation runs on the device of ``test_features`` in float32
    (float64 if both feature tensors are float64). See the module docstring for tie-breaking.

    Returns int64 predictions of shape (N_test,) on the device of ``test_features``.
    """
    train = check_features(train_features, split="training")
    test = check_features(test_features, split="test")
    check_same_width(train, test)
    labels = check_labels(train_labels, train.shape[0], split="training", num_classes=num_classes)
    if k < 1:
        raise ContrastlabError(f"k must be at least 1, got {k}")
    if not temperature > 0:
        raise ContrastlabError(f"temperature must be positive, got {temperature}")
    if chunk_size < 1:
        raise ContrastlabError(f"chunk_size must be at least 1, got {chunk_size}")

    device = test.device
    both_double = train.dtype == torch.float64 and test.dtype == torch.float64
    dtype = torch.float64 if both_double else torch.float32
    bank = F.normalize(train.to(device=device, dtype=dtype), dim=1)
    labels = labels.to(device)
    k = min(k, bank.shape[0])

    predictions = []
    for start in range(0, test.shape[0], chunk_size):
        queries = F.normalize(test[start : start + chunk_size].to(dtype), dim=1)
        sim, idx = _neighbours(queries @ bank.T, k)
        weights = ((sim - sim[:, :1]) / temperature).exp()  # sim is sorted, column 0 is the max
        votes = torch.zeros(queries.shape[0], num_classes, device=device, dtype=dtype)
        votes.scatter_add_(1, labels[idx], weights)
        predictions.append(votes.argmax(dim=1))
    return torch.cat(predictions)


def knn_accuracy(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    *,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.1,
) -> float:
    """Top-1 accuracy (a fraction in [0, 1]) of :func:`knn_predict` on labelled test features."""
    test = check_features(test_features, split="test")
    truth = check_labels(test_labels, test.shape[0], split="test", num_classes=num_classes)
    predicted = knn_predict(
        train_features,
        train_labels,
        test,
        num_classes=num_classes,
        k=k,
        temperature=temperature,
    )
    return float((predicted.cpu() == truth).double().mean())
