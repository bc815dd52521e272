"""Linear probe: multinomial logistic regression on frozen, standardised features.

The linear evaluation protocol of SimCLR (Chen et al. 2020, appendix B.5, following Kornblith et
al. 2019, "Do Better ImageNet Models Transfer Better?"): an L2-regularised multinomial logistic
regression is trained with L-BFGS on frozen features, the regularisation strength is chosen on a
held-out validation split of the training data, and the chosen model is refit on all training
data and scored once on the test data. Here features are standardised with training statistics
(``StandardScaler``) and scikit-learn's ``LogisticRegression`` does the optimisation.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import Tensor

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_features, check_labels, check_same_width

__all__ = ["LinearProbeResult", "linear_probe", "top_k_accuracy"]


@dataclass
class LinearProbeResult:
    """Outcome of :func:`linear_probe`."""

    top1: float
    """Accuracy on the test features, a fraction in [0, 1]."""
    c: float
    """The chosen inverse regularisation strength ``C``."""
    val_top1: dict[float, float]
    """Validation accuracy for each ``C`` tried, in the order tried (ascending ``C``)."""
    top5: float = float("nan")
    """Test accuracy counting the 5 most probable classes (all when fewer than 5 are known)."""


def _to_numpy(x: Tensor) -> np.ndarray:
    return x.detach().to(device="cpu", dtype=torch.float64).numpy()


def _validation_split(
    labels: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (fit, val) of a stratified split; classes with a single sample stay in fit."""
    classes, counts = np.unique(labels, return_counts=True)
    single = np.isin(labels, classes[counts < 2])
    pool = np.flatnonzero(~single)
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed)
    try:
        fit_pos, val_pos = next(splitter.split(np.zeros((len(pool), 1)), labels[pool]))
    except ValueError:
        raise ContrastlabError(
            f"too few training samples for the linear probe's validation split: "
            f"{len(labels)} samples in {len(classes)} classes with val_fraction={val_fraction}"
        ) from None
    fit = np.sort(np.concatenate([np.flatnonzero(single), pool[fit_pos]]))
    return fit, np.sort(pool[val_pos])


def _probe(c: float, seed: int, max_iter: int) -> Pipeline:
    classifier = LogisticRegression(C=c, solver="lbfgs", max_iter=max_iter, random_state=seed)
    return make_pipeline(StandardScaler(), classifier)


def linear_probe(
    train_features: Tensor | np.ndarray,
    train_labels: Tensor | np.ndarray,
    test_features: Tensor | np.ndarray,
    test_labels: Tensor | np.ndarray,
    *,
    seed: int = 0,
    cs: Sequence[float] = (0.01, 0.1, 1.0, 10.0),
    val_fraction: float = 0.2,
    max_iter: int = 1000,
) -> LinearProbeResult:
    """Fit a linear classifier on frozen training features and score it on the test features.

    Features are standardised with training statistics (``StandardScaler``) and classified by
    multinomial logistic regression (``LogisticRegression``, lbfgs, L2 penalty). ``C`` is chosen
    among ``cs`` by accuracy on a stratified validation split holding ``val_fraction`` of the
    training features (the scaler is refit on the remaining part for this step); ties go to the
    smaller ``C``. The chosen model is then refit on all training features and scored on the test
    features. Classes with a single training sample are kept out of the validation split.

    Deterministic given ``seed`` (it seeds the split; lbfgs itself is deterministic).
    Convergence warnings are silenced: with standardised inputs and ``max_iter`` iterations
    lbfgs is close enough to the optimum for accuracy.

    Accepts torch tensors or numpy arrays; features are converted to float64. BLAS runs on one
    thread for the duration of the probe (see the comment in the body).
    """
    train = check_features(train_features, split="training")
    test = check_features(test_features, split="test")
    check_same_width(train, test)
    y_train = check_labels(train_labels, train.shape[0], split="training").numpy()
    y_test = check_labels(test_labels, test.shape[0], split="test").numpy()
    grid = sorted({float(c) for c in cs})
    if not grid or grid[0] <= 0:
        raise ContrastlabError(f"cs must be a non-empty list of positive numbers, got {list(cs)}")
    if not 0 < val_fraction < 1:
        raise ContrastlabError(f"val_fraction must be strictly between 0 and 1, got {val_fraction}")
    if max_iter < 1:
        raise ContrastlabError(f"max_iter must be at least 1, got {max_iter}")
    n_classes = len(np.unique(y_train))
    if n_classes < 2:
        raise ContrastlabError(
            f"the linear probe needs at least 2 classes in the training labels, got {n_classes}"
        )

    x_train, x_test = _to_numpy(train), _to_numpy(test)
    fit, val = _validation_split(y_train, val_fraction, seed)
    val_top1: dict[float, float] = {}
    # lbfgs spends its time in skinny (n x d) @ (d x classes) products, which are bandwidth-bound.
    # On a shared 2-core machine threaded BLAS made the probe 2-10x slower and erratic (10000 x 256
    # and 50000 x 512 features), so it runs BLAS on one thread; not measured on large machines.
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for c in grid:
            model = _probe(c, seed, max_iter).fit(x_train[fit], y_train[fit])
            val_top1[c] = float(model.score(x_train[val], y_train[val]))
        best = max(grid, key=lambda c: (val_top1[c], -c))
        model = _probe(best, seed, max_iter).fit(x_train, y_train)
        top1 = float(model.score(x_test, y_test))
        top5 = top_k_accuracy(model.predict_proba(x_test), model.classes_, y_test, 5)
    return LinearProbeResult(top1=top1, c=best, val_top1=val_top1, top5=top5)


def top_k_accuracy(scores: np.ndarray, classes: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Fraction of rows whose true class is among the ``k`` highest-scoring ``classes`` (columns
    of ``scores``; ``k`` clipped to their number; ties to the earlier column)."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, : min(k, scores.shape[1])]
    return float((np.asarray(classes)[order] == np.asarray(truth)[:, None]).any(axis=1).mean())
