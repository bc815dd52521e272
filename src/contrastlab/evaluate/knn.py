"""k-nearest-neighbour classification of frozen features: weighted (InstDisc) or majority vote.

The classifier of Wu et al. 2018, "Unsupervised Feature Learning via Non-Parametric Instance
Discrimination" (InstDisc, section 3.4), as used by the kNN monitor of the MoCo CIFAR-10 demo:
features are L2-normalised, similarity is the cosine, and each of the ``k`` most similar training
samples votes for its class with weight ``exp(sim / temperature)``; the class with the largest
total weight is the prediction. ``vote="majority"`` gives every neighbour one vote instead.
The neighbour search (exact, chunked; torch or faiss) is :mod:`contrastlab.evaluate.neighbours`.

Ties are broken deterministically:

* similarity ties at the k-th neighbour go to the training sample that comes first in the
  training set (with the torch backend; faiss orders exact ties its own way);
* ties between class totals go to the smallest class index (``torch.argmax`` returns the first
  maximum).

The weights are computed as ``exp((sim - max_sim) / temperature)``: the common factor
``exp(-max_sim / temperature)`` does not change the vote, and it keeps small temperatures from
overflowing float32.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch
from torch import Tensor

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_features, check_labels, check_same_width
from contrastlab.evaluate.neighbours import nearest_neighbours

__all__ = ["bank_k", "knn_accuracy", "knn_predict", "knn_scores"]

Vote = Literal["weighted", "majority"]


def _vote_chunks(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    *,
    num_classes: int,
    k: int,
    temperature: float,
    vote: str,
    chunk_size: int,
    backend: str,
) -> Iterator[Tensor]:
    """Class vote totals, (chunk, num_classes), for ``chunk_size`` queries at a time."""
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
    if vote not in ("weighted", "majority"):
        raise ContrastlabError(f"vote must be weighted or majority, got {vote!r}")
    device = test.device
    labels = labels.to(device)
    k = min(k, train.shape[0])
    for start in range(0, test.shape[0], chunk_size):
        queries = test[start : start + chunk_size]
        sim, idx = nearest_neighbours(queries, train, k, chunk_size=chunk_size, backend=backend)
        if vote == "weighted":  # sim is sorted, column 0 is the max
            weights = ((sim - sim[:, :1]) / temperature).exp()
        else:
            weights = torch.ones_like(sim)
        votes = torch.zeros(queries.shape[0], num_classes, device=device, dtype=sim.dtype)
        yield votes.scatter_add_(1, labels[idx], weights)


def knn_predict(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    *,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.1,
    vote: Vote = "weighted",
    chunk_size: int = 1024,
    backend: str = "torch",
) -> Tensor:
    """Predict a class for each test feature by a vote of its k nearest training samples.

    Features are L2-normalised and compared by cosine similarity; the ``k`` most similar training
    samples vote with weight ``exp(sim / temperature)`` (``vote="weighted"``, Wu et al. 2018) or
    one vote each (``"majority"``; ``temperature`` unused). ``k`` is clipped to the number of
    training samples. Queries are processed ``chunk_size`` at a time, so memory is
    O(chunk_size x N_train) with torch (``backend``: see :mod:`contrastlab.evaluate.neighbours`).
    Computation runs on the device of ``test_features`` in float32 (float64 if both feature
    tensors are float64). See the module docstring for tie-breaking.

    Returns int64 predictions of shape (N_test,) on the device of ``test_features``.
    """
    chunks = _vote_chunks(
        train_features,
        train_labels,
        test_features,
        num_classes=num_classes,
        k=k,
        temperature=temperature,
        vote=vote,
        chunk_size=chunk_size,
        backend=backend,
    )
    return torch.cat([votes.argmax(dim=1) for votes in chunks])


def knn_scores(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    *,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.1,
    vote: Vote = "weighted",
    chunk_size: int = 1024,
    backend: str = "torch",
) -> dict[str, float]:
    """Top-1 and top-5 accuracy (fractions) of the kNN vote: ``{"top1": ..., "top5": ...}``.

    Top-5 counts a query as correct when its class is among the 5 classes with the largest vote
    totals (all classes when there are fewer than 5), ties in the totals to the smaller index.
    Arguments as in :func:`knn_predict`.
    """
    test = check_features(test_features, split="test")
    truth = check_labels(test_labels, test.shape[0], split="test", num_classes=num_classes)
    chunks = _vote_chunks(
        train_features,
        train_labels,
        test,
        num_classes=num_classes,
        k=k,
        temperature=temperature,
        vote=vote,
        chunk_size=chunk_size,
        backend=backend,
    )
    top1 = top5 = 0
    start = 0
    for votes in chunks:
        y = truth[start : start + votes.shape[0]].to(votes.device)
        start += votes.shape[0]
        # a stable descending sort ranks tied totals by class index, as argmax does
        ranked = votes.sort(dim=1, descending=True, stable=True).indices[:, : min(5, num_classes)]
        top1 += int((ranked[:, 0] == y).sum())
        top5 += int((ranked == y[:, None]).any(dim=1).sum())
    return {"top1": top1 / len(truth), "top5": top5 / len(truth)}


def knn_accuracy(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    *,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.1,
    vote: Vote = "weighted",
    backend: str = "torch",
) -> float:
    """Top-1 accuracy (a fraction in [0, 1]) of :func:`knn_predict` on labelled test features."""
    scores = knn_scores(
        train_features,
        train_labels,
        test_features,
        test_labels,
        num_classes=num_classes,
        k=k,
        temperature=temperature,
        vote=vote,
        backend=backend,
    )
    return scores["top1"]


def bank_k(k: int, n_bank: int, num_classes: int) -> int:
    """The k a bank of ``n_bank`` samples in ``num_classes`` classes supports:
    ``min(k, max(1, n_bank // num_classes))``, and never more than ``n_bank``.

    No more neighbours than the bank holds per class on average, so that one class can still
    win the vote: with k = 200 on a 160-image bank of 20 classes every query would vote over the
    whole bank (a majority vote would answer the largest class every time); the rule uses k = 8
    there. On large banks the requested k stays (20,000 images, 10 classes: 200).
    """
    if k < 1 or n_bank < 1 or num_classes < 1:
        raise ContrastlabError(
            f"k, the bank size and the number of classes must be at least 1, "
            f"got k={k}, n_bank={n_bank}, num_classes={num_classes}"
        )
    return min(k, max(1, n_bank // num_classes), n_bank)
