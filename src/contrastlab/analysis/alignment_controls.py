"""Chance levels for the first-layer alignment of Maennel et al. 2020 (arXiv 2006.10455).

`contrastlab.analysis.covariance.misalignment` is 0 for filters whose covariance Sigma_w shares
the eigenvectors of the patch covariance Sigma_x, but a finite sample of filters is never exactly
aligned, and a layer whose filters merely became *anisotropic* (a few large directions, whatever
they are) scores lower than an isotropic one for that reason alone. The two controls here ask
whether what training produced is tied to the data's own eigenvectors:

* :func:`random_basis_misalignment`: the misalignment of the same Sigma_w with covariances that
  have the data's eigenvalues but Haar-random eigenvectors. A layer aligned with the data scores
  below this chance level; one anisotropic in unrelated directions scores the same.
* :func:`mapping_smoothness`: how well the filters' variance along each data eigenvector,
  sigma_i = u_i^T Sigma_w u_i, is a smooth function of the eigenvalue lambda_i (the eigenvalue
  mapping f the paper plots): the R^2 of a low-degree polynomial in log lambda. With
  ``basis="random"`` the same is measured along Haar-random orthonormal bases (with the data's
  eigenvalues kept in order), its chance level.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from contrastlab.analysis.covariance import eigenvalue_mapping, misalignment
from contrastlab.core.errors import ContrastlabError

__all__ = ["haar_orthogonal", "mapping_smoothness", "random_basis_misalignment", "smoothness"]


def haar_orthogonal(dim: int, generator: torch.Generator) -> Tensor:
    """A (dim, dim) float64 orthogonal matrix drawn uniformly (Haar measure on O(dim)).

    QR of a standard Gaussian matrix, with the signs of R's diagonal moved into Q (Mezzadri
    2007), without which Q is not uniformly distributed."""
    if dim < 1:
        raise ContrastlabError(f"dim must be at least 1, got {dim}")
    z = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(z)
    signs = torch.sign(r.diagonal())
    signs[signs == 0] = 1.0
    return q * signs


def random_basis_misalignment(
    weight_cov: Tensor, data_cov: Tensor, *, rotations: int = 64, seed: int = 0
) -> float:
    """Mean `misalignment` of ``weight_cov`` with Q Sigma_x Q^T over ``rotations`` Haar-random Q.

    The rotated covariances have the data's eigenvalues in random eigenbases, so this is the
    score of Sigma_w against a data set whose eigenvectors it cannot know: the chance level its
    misalignment with the real Sigma_x is compared with. Deterministic in ``seed``."""
    scores = [misalignment(weight_cov, c) for c in _rotated(data_cov, rotations, seed)]
    return float(np.mean(scores))


def _rotated(data_cov: Tensor, rotations: int, seed: int) -> list[Tensor]:
    """``rotations`` copies Q Sigma_x Q^T of ``data_cov``, each Q Haar-random from ``seed``."""
    if rotations < 1:
        raise ContrastlabError(f"rotations must be at least 1, got {rotations}")
    sigma_x = torch.as_tensor(data_cov, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(rotations):
        q = haar_orthogonal(int(sigma_x.shape[0]), generator)
        out.append(q @ sigma_x @ q.T)
    return out


def smoothness(lambdas: Tensor, sigmas: Tensor, *, degree: int = 2) -> float:
    """R^2 of the least-squares polynomial of ``degree`` in log lambda fitted to sigma.

    sigma is divided by its mean first (R^2 does not depend on it). Pairs with lambda <= 0 are
    left out. 1 when sigma is exactly such a polynomial (a constant sigma, an isotropic layer,
    counts as a perfect fit); near 0 when sigma does not vary with lambda."""
    lam = torch.as_tensor(lambdas, dtype=torch.float64).flatten().numpy()
    sig = torch.as_tensor(sigmas, dtype=torch.float64).flatten().numpy()
    if lam.shape != sig.shape:
        raise ContrastlabError(f"got {lam.size} eigenvalues but {sig.size} variances")
    keep = lam > 0
    if int(keep.sum()) < degree + 2:
        raise ContrastlabError(
            f"a degree-{degree} fit needs at least {degree + 2} positive eigenvalues, "
            f"got {int(keep.sum())}"
        )
    x, y = np.log(lam[keep]), sig[keep]
    if not np.isfinite(y).all() or y.mean() == 0:
        raise ContrastlabError("the variances must be finite with a non-zero mean")
    y = y / y.mean()
    total = float(((y - y.mean()) ** 2).sum())
    if total <= 1e-24:
        return 1.0
    fit = np.polyval(np.polyfit(x, y, degree), x)
    return 1.0 - float(((y - fit) ** 2).sum()) / total


def mapping_smoothness(
    weight_cov: Tensor,
    data_cov: Tensor,
    *,
    basis: str = "data",
    degree: int = 2,
    rotations: int = 64,
    seed: int = 0,
) -> float:
    """`smoothness` of the eigenvalue mapping sigma_i = u_i^T Sigma_w u_i against lambda_i.

    ``basis="data"``: u_i are the eigenvectors of Sigma_x (`eigenvalue_mapping`).
    ``basis="random"``: the mean over ``rotations`` Haar-random Q of the mapping against
    Q Sigma_x Q^T, whose eigenvectors Q u_i form a random orthonormal basis paired with the data's
    eigenvalues: the chance level of a mapping that owes nothing to the data's eigenvectors."""
    if basis == "data":
        lambdas, sigmas = eigenvalue_mapping(weight_cov, data_cov)
        return smoothness(lambdas, sigmas, degree=degree)
    if basis != "random":
        raise ContrastlabError(f"basis must be 'data' or 'random', got {basis!r}")
    scores = []
    for rotated in _rotated(data_cov, rotations, seed):
        lambdas, sigmas = eigenvalue_mapping(weight_cov, rotated)
        scores.append(smoothness(lambdas, sigmas, degree=degree))
    return float(np.mean(scores))
