"""Centered kernel alignment (CKA) between feature matrices and between layers of two models.

Kornblith et al. 2019, "Similarity of Neural Network Representations Revisited" (ICML): for
features X (n, d1) and Y (n, d2) of the same n examples, with Gram matrices K = k(X, X) and
L = l(Y, Y) and the centring matrix H = I - 11^T / n,

    HSIC_0(K, L) = tr(K H L H) / (n - 1)^2
    CKA(K, L)    = HSIC_0(K, L) / sqrt(HSIC_0(K, K) HSIC_0(L, L)).

With the linear kernel K = X X^T this equals ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) on
column-centred features; it is invariant to orthogonal maps and isotropic scaling of either
side, but not to arbitrary invertible linear maps. The RBF kernel is
k(x, x') = exp(-||x - x'||^2 / (2 sigma^2)) with sigma a fraction of the median distance.

Large sets go through :class:`MinibatchCKA`, the estimator of Nguyen, Raghu & Kornblith 2021,
"Do Wide and Deep Networks Learn the Same Things?" (ICLR): each of HSIC(K, L), HSIC(K, K) and
HSIC(L, L) is the mean over minibatches of the *unbiased* estimator of Song et al. 2012
("Feature Selection via Dependence Maximization", JMLR), and CKA is formed from the means.
Memory is O(layers x batch^2), not O(n^2). The same batches of images go to both models.
Everything is computed in float64.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from contrastlab.analysis.layers import batch_bounds, check_layers, layer_features, run_layers
from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_images

__all__ = [
    "MinibatchCKA",
    "cka_matrix",
    "layer_features",
    "linear_cka",
    "minibatch_cka",
    "rbf_cka",
]

Kernel = Literal["linear", "rbf"]
MIN_UNBIASED = 4
"""The unbiased HSIC estimator divides by n (n - 3): a batch needs at least 4 examples."""


def _as_features(features: Tensor | np.ndarray, name: str) -> Tensor:
    """``features`` as a finite 2-D float64 tensor, or a one-line error naming it."""
    x = torch.as_tensor(features)
    if x.ndim != 2:
        raise ContrastlabError(f"{name} must be 2-D (samples, dim), got shape {tuple(x.shape)}")
    if x.dtype == torch.bool or x.dtype.is_complex:
        raise ContrastlabError(f"{name} must hold real numbers, got {x.dtype}")
    if x.shape[1] == 0:
        raise ContrastlabError(f"{name} has zero dimensions")
    x = x.to(torch.float64)
    n_bad = int((~torch.isfinite(x)).sum())
    if n_bad:
        raise ContrastlabError(f"{name} holds {n_bad} non-finite values (NaN or inf)")
    return x


def _gram(x: Tensor, kernel: str, sigma_fraction: float) -> Tensor:
    """The (n, n) Gram matrix of float64 features ``x`` under ``kernel``.

    RBF: sigma^2 = sigma_fraction^2 x median of the n x n squared distances, diagonal zeros
    included, as in Kornblith et al.'s reference code (``gram_rbf`` of their demo notebook).
    """
    gram = x @ x.T
    if kernel == "linear":
        return gram
    sq_dist = (gram.diagonal()[:, None] + gram.diagonal()[None, :] - 2 * gram).clamp_(min=0.0)
    flat, m = sq_dist.flatten(), sq_dist.numel()  # np.median: the mean of the middle pair
    sq_median = float(flat.kthvalue((m + 1) // 2).values + flat.kthvalue(m // 2 + 1).values) / 2
    if not sq_median > 0:
        raise ContrastlabError(
            "the RBF bandwidth is zero: the median distance between samples is 0 "
            "(most samples are identical); use the linear kernel"
        )
    return torch.exp(-sq_dist / (2 * sigma_fraction**2 * sq_median))


def _check_kernel(kernel: str, sigma_fraction: float) -> None:
    if kernel not in ("linear", "rbf"):
        raise ContrastlabError(f"kernel must be linear or rbf, got {kernel!r}")
    if not sigma_fraction > 0:
        raise ContrastlabError(f"sigma_fraction must be positive, got {sigma_fraction}")


def _constant(x: Tensor) -> bool:
    """Whether every row of ``x`` is the same (exactly: HSIC is then 0, not rounding noise)."""
    return bool((x == x[:1]).all())


def _centred(gram: Tensor) -> Tensor:
    """H K H: the Gram matrix with row, column and grand means removed."""
    return gram - gram.mean(0, keepdim=True) - gram.mean(1, keepdim=True) + gram.mean()


def _u_centred(gram: Tensor) -> Tensor:
    """The U-centred Gram matrix: <U(K), U(L)> / (n (n - 3)) is Song et al.'s unbiased HSIC.

    With K~ the Gram matrix with its diagonal set to 0, row sums r and total s,
    U(K)_ij = K~_ij - r_i / (n - 2) - r_j / (n - 2) + s / ((n - 1)(n - 2)) off the diagonal
    and 0 on it. Expanding <U(K), U(L)> gives Song et al.'s
    tr(K~ L~) + 1^T K~ 1 1^T L~ 1 / ((n - 1)(n - 2)) - 2 / (n - 2) 1^T K~ L~ 1.
    """
    n = gram.shape[0]
    k = gram.clone()
    k.fill_diagonal_(0.0)
    means = k.sum(0) / (n - 2)
    means -= means.sum() / (2 * (n - 1))
    k -= means[:, None]
    k -= means[None, :]
    k.fill_diagonal_(0.0)
    return k


def _cka(
    x: Tensor | np.ndarray, y: Tensor | np.ndarray, kernel: str, sigma_fraction: float
) -> float:
    _check_kernel(kernel, sigma_fraction)
    fx, fy = _as_features(x, "x"), _as_features(y, "y")
    if fx.shape[0] != fy.shape[0]:
        raise ContrastlabError(
            f"CKA compares the same examples: x has {fx.shape[0]} samples, y has {fy.shape[0]}"
        )
    for f, name in ((fx, "x"), (fy, "y")):
        if _constant(f):
            raise ContrastlabError(
                f"CKA is undefined: {name} is the same for every sample (or there is only one)"
            )
    k = _centred(_gram(fx, kernel, sigma_fraction))
    l_ = _centred(_gram(fy, kernel, sigma_fraction))
    return float((k * l_).sum() / (k.norm() * l_.norm()))  # the (n - 1)^-2 factors cancel


def linear_cka(x: Tensor | np.ndarray, y: Tensor | np.ndarray) -> float:
    """Linear CKA of features ``x`` (n, d1) and ``y`` (n, d2) of the same n examples.

    CKA = <H X X^T H, H Y Y^T H>_F / (||H X X^T H||_F ||H Y Y^T H||_F) (Kornblith et al. 2019,
    with the biased HSIC estimator), in [0, 1]. Builds n x n Gram matrices in float64, so keep n
    to a few thousand; use :func:`minibatch_cka` beyond.
    """
    return _cka(x, y, "linear", 1.0)


def rbf_cka(x: Tensor | np.ndarray, y: Tensor | np.ndarray, sigma_fraction: float = 0.5) -> float:
    """RBF-kernel CKA of ``x`` (n, d1) and ``y`` (n, d2), as :func:`linear_cka` otherwise.

    k(a, b) = exp(-||a - b||^2 / (2 sigma^2)), with sigma = ``sigma_fraction`` x the median
    distance between examples, chosen separately for x and y (Kornblith et al. 2019 report
    0.2, 0.4, 0.8 and use 0.5 in some figures). The median heuristic makes the value invariant
    to isotropic scaling as well as orthogonal maps and translations.
    """
    return _cka(x, y, "rbf", sigma_fraction)


def _hsic_terms(
    features: Sequence[Tensor | np.ndarray], kernel: str, sigma_fraction: float, name: str
) -> Tensor:
    """Flattened U-centred Gram matrices of one batch, stacked: (len(features), n^2), float64."""
    rows = []
    for i, f in enumerate(features):
        x = _as_features(f, f"{name}[{i}]" if len(features) > 1 else name)
        if _constant(x):  # exactly 0, where the formula would leave rounding noise
            rows.append(x.new_zeros(x.shape[0] ** 2))
        else:
            rows.append(_u_centred(_gram(x, kernel, sigma_fraction)).flatten())
    return torch.stack(rows)


class MinibatchCKA:
    """Running means of unbiased HSIC over minibatches, for every (layer a, layer b) pair.

    Nguyen, Raghu & Kornblith 2021: for k minibatches of features X_i (layer a) and Y_i
    (layer b) of the same examples,

        CKA = mean_i HSIC_1(K_i, L_i) / sqrt(mean_i HSIC_1(K_i, K_i) mean_i HSIC_1(L_i, L_i)),

    HSIC_1(K, L) = <U(K), U(L)> / (n (n - 3)) being Song et al.'s unbiased estimator (see
    :func:`_u_centred`). Every batch counts equally, whatever its size (at least 4). Unlike the
    biased full-data CKA, the estimate is near 0 for independent features at any batch size, and
    it may fall slightly outside [0, 1].
    """

    def __init__(
        self, n_a: int, n_b: int, *, kernel: Kernel = "linear", sigma_fraction: float = 0.5
    ) -> None:
        _check_kernel(kernel, sigma_fraction)
        if n_a < 1 or n_b < 1:
            raise ContrastlabError(f"MinibatchCKA needs a layer a side, got {n_a} and {n_b}")
        self.kernel, self.sigma_fraction = kernel, sigma_fraction
        self.hsic_ab = np.zeros((n_a, n_b))
        self.hsic_aa = np.zeros(n_a)
        self.hsic_bb = np.zeros(n_b)
        self.batches = 0

    def update(
        self, features_a: Sequence[Tensor | np.ndarray], features_b: Sequence[Tensor | np.ndarray]
    ) -> None:
        """Add one minibatch: one (n, d) feature matrix per layer of each side, same n for all."""
        n_a, n_b = self.hsic_ab.shape
        if len(features_a) != n_a or len(features_b) != n_b:
            raise ContrastlabError(
                f"expected {n_a} and {n_b} feature matrices, got {len(features_a)} "
                f"and {len(features_b)}"
            )
        sizes = {torch.as_tensor(f).shape[0] for f in [*features_a, *features_b]}
        if len(sizes) > 1:
            raise ContrastlabError(
                f"every layer must see the same examples, got batch sizes {sorted(sizes)}"
            )
        n = sizes.pop()
        if n < MIN_UNBIASED:
            raise ContrastlabError(
                f"the unbiased HSIC estimator needs at least {MIN_UNBIASED} samples per batch, "
                f"got {n}"
            )
        u_a = _hsic_terms(features_a, self.kernel, self.sigma_fraction, "features_a")
        u_b = _hsic_terms(features_b, self.kernel, self.sigma_fraction, "features_b")
        scale = 1.0 / (n * (n - 3))
        self.hsic_ab += (u_a @ u_b.T).cpu().numpy() * scale
        self.hsic_aa += (u_a * u_a).sum(1).cpu().numpy() * scale
        self.hsic_bb += (u_b * u_b).sum(1).cpu().numpy() * scale
        self.batches += 1

    def result(self, names_a: Sequence[str] = (), names_b: Sequence[str] = ()) -> np.ndarray:
        """The (n_a, n_b) CKA matrix so far; ``names_*`` only label the error messages."""
        if self.batches == 0:
            raise ContrastlabError("CKA needs at least one batch, got none")
        for hsic, names, side in ((self.hsic_aa, names_a, "a"), (self.hsic_bb, names_b, "b")):
            bad = np.flatnonzero(~(hsic > 0))
            if bad.size:
                which = names[bad[0]] if len(names) > bad[0] else f"#{bad[0]}"
                raise ContrastlabError(
                    f"CKA is undefined for layer {which!r} of side {side}: its features do not "
                    "vary over the samples (or too few samples to estimate it)"
                )
        mean = 1.0 / self.batches
        return (self.hsic_ab * mean) / np.sqrt(np.outer(self.hsic_aa * mean, self.hsic_bb * mean))


def minibatch_cka(
    batches_x: Iterable[Tensor | np.ndarray],
    batches_y: Iterable[Tensor | np.ndarray],
    *,
    kernel: Kernel = "linear",
    sigma_fraction: float = 0.5,
) -> float:
    """CKA of paired minibatches (x_i, y_i) by the unbiased estimator of :class:`MinibatchCKA`.

    ``batches_x`` and ``batches_y`` must give the same number of batches, each pair holding the
    same examples (at least 4). With the RBF kernel the bandwidth is set per batch.
    """
    acc = MinibatchCKA(1, 1, kernel=kernel, sigma_fraction=sigma_fraction)
    it_x, it_y = iter(batches_x), iter(batches_y)
    while True:  # zip(strict=True) would raise a ValueError
        bx, by = next(it_x, None), next(it_y, None)
        if bx is None or by is None:
            if bx is not None or by is not None:
                raise ContrastlabError("batches_x and batches_y hold different numbers of batches")
            break
        acc.update([bx], [by])
    return float(acc.result()[0, 0])


def cka_matrix(
    model_a: nn.Module,
    model_b: nn.Module,
    images: Tensor,
    layers_a: Sequence[str],
    layers_b: Sequence[str],
    *,
    kernel: Kernel = "linear",
    sigma_fraction: float = 0.5,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    pool: bool = False,
) -> np.ndarray:
    """Minibatch CKA between every layer of ``model_a`` and every layer of ``model_b``.

    Returns a float64 array (len(layers_a), len(layers_b)) whose entry (i, j) is the CKA of
    ``layers_a[i]`` and ``layers_b[j]`` over ``images`` by the estimator of
    :class:`MinibatchCKA` (Nguyen, Raghu & Kornblith 2021). Both models see the same batches in
    the same order, in eval mode (see :func:`layer_features` for ``images``, ``device`` and
    ``pool``). Batches hold ``batch_size`` images (at least 4); a last batch of fewer than 4
    joins the one before. When ``model_a is model_b`` each batch runs once. Deterministic for
    deterministic models: the same inputs give the same matrix.
    """
    _check_kernel(kernel, sigma_fraction)
    check_images(images, what="cka_matrix's images")
    if batch_size < MIN_UNBIASED:
        raise ContrastlabError(
            f"batch_size must be at least {MIN_UNBIASED} for the unbiased HSIC estimator, "
            f"got {batch_size}"
        )
    if images.shape[0] < MIN_UNBIASED:
        raise ContrastlabError(f"cka_matrix needs at least 4 images, got {images.shape[0]}")
    check_layers(model_a, layers_a, "layers_a")
    check_layers(model_b, layers_b, "layers_b")
    bounds = batch_bounds(images.shape[0], batch_size, MIN_UNBIASED)
    acc = MinibatchCKA(len(layers_a), len(layers_b), kernel=kernel, sigma_fraction=sigma_fraction)
    if model_a is model_b:
        union = list(dict.fromkeys([*layers_a, *layers_b]))
        for batch in run_layers(model_a, images, union, bounds, device, pool):
            acc.update([batch[n] for n in layers_a], [batch[n] for n in layers_b])
    else:
        runs_a = run_layers(model_a, images, list(layers_a), bounds, device, pool)
        runs_b = run_layers(model_b, images, list(layers_b), bounds, device, pool)
        try:
            for batch_a, batch_b in zip(runs_a, runs_b, strict=True):
                acc.update([batch_a[n] for n in layers_a], [batch_b[n] for n in layers_b])
        finally:  # restore both models' modes at once, even after an error
            runs_a.close()
            runs_b.close()
    return acc.result(layers_a, layers_b)
