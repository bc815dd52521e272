"""Chance levels of the first-layer alignment: random-basis misalignment, mapping smoothness."""

from __future__ import annotations

import math

import pytest
import torch

from contrastlab.analysis.alignment_controls import (
    haar_orthogonal,
    mapping_smoothness,
    random_basis_misalignment,
    smoothness,
)
from contrastlab.analysis.covariance import misalignment
from contrastlab.core.errors import ContrastlabError


def spd(dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A covariance with distinct eigenvalues: (matrix, eigenvalues, eigenvectors)."""
    generator = torch.Generator().manual_seed(seed)
    u = haar_orthogonal(dim, generator)
    lam = torch.logspace(-2, 1, dim, dtype=torch.float64)
    return u @ torch.diag(lam) @ u.T, lam, u


def test_haar_matrices_are_orthogonal_and_unbiased() -> None:
    generator = torch.Generator().manual_seed(0)
    qs = torch.stack([haar_orthogonal(4, generator) for _ in range(4000)])
    eye = torch.eye(4, dtype=torch.float64)
    assert torch.allclose(qs[0] @ qs[0].T, eye, atol=1e-12)
    # uniform on O(n): E[Q] = 0 and E[Q_ij^2] = 1/n
    assert qs.mean(0).abs().max() < 0.05
    assert torch.allclose((qs**2).mean(0), torch.full((4, 4), 0.25, dtype=torch.float64), atol=0.02)


def test_random_basis_misalignment_of_a_rank_one_layer_in_two_dimensions() -> None:
    """Sigma_w = e1 e1^T against diag(2, 1) turned by theta: C = [[c^2, cs], [cs, s^2]], so
    m = sqrt(2) |cs| = |sin 2 theta| / sqrt(2); over uniform theta, E m = sqrt(2) / pi."""
    weight = torch.diag(torch.tensor([1.0, 0.0], dtype=torch.float64))
    data = torch.diag(torch.tensor([2.0, 1.0], dtype=torch.float64))
    assert misalignment(weight, data) == 0.0
    chance = random_basis_misalignment(weight, data, rotations=4_000, seed=1)
    assert chance == pytest.approx(math.sqrt(2) / math.pi, abs=0.015)  # 4 standard errors


def test_an_aligned_layer_scores_below_its_chance_level_an_isotropic_one_does_not() -> None:
    data, lam, u = spd(8, seed=0)
    aligned = u @ torch.diag(lam.sqrt()) @ u.T
    assert misalignment(aligned, data) < 1e-9
    assert random_basis_misalignment(aligned, data, rotations=32) > 0.3
    isotropic = torch.eye(8, dtype=torch.float64)
    assert random_basis_misalignment(isotropic, data, rotations=8) < 1e-12
    # a layer anisotropic in unrelated directions scores at its chance level
    other, _, _ = spd(8, seed=5)
    score, chance = misalignment(other, data), random_basis_misalignment(other, data)
    assert score == pytest.approx(chance, abs=0.15)
    assert random_basis_misalignment(other, data, seed=3) == random_basis_misalignment(
        other, data, seed=3
    )


def test_smoothness_known_answers() -> None:
    lam = torch.logspace(-3, 1, 27, dtype=torch.float64)
    x = lam.log()
    assert smoothness(lam, 2.0 + 0.3 * x - 0.1 * x**2) == pytest.approx(1.0, abs=1e-9)
    assert smoothness(lam, torch.full((27,), 4.0, dtype=torch.float64)) == 1.0
    generator = torch.Generator().manual_seed(0)
    noise = [smoothness(lam, 1 + 0.1 * torch.rand(27, generator=generator)) for _ in range(200)]
    assert sum(noise) / len(noise) == pytest.approx(2 / 26, abs=0.03)  # E R^2 = p / (n - 1)
    # non-positive eigenvalues are left out; the variances are used relative to their mean
    with_zero = torch.cat([torch.zeros(1, dtype=torch.float64), lam])
    y = torch.cat([torch.tensor([9.0], dtype=torch.float64), 5 + x])
    assert smoothness(with_zero, y, degree=1) == pytest.approx(1.0, abs=1e-9)


def test_mapping_smoothness_in_the_data_basis_and_in_random_ones() -> None:
    data, lam, u = spd(10, seed=2)
    smooth = u @ torch.diag(lam / (1 + lam)) @ u.T  # f(lambda) = lambda / (1 + lambda)
    in_data = mapping_smoothness(smooth, data, degree=3)
    in_random = mapping_smoothness(smooth, data, basis="random", degree=3, rotations=32)
    assert in_data > 0.98 and in_random < 0.6


def test_errors() -> None:
    data, _, _ = spd(4, seed=0)
    with pytest.raises(ContrastlabError, match="basis"):
        mapping_smoothness(data, data, basis="other")
    with pytest.raises(ContrastlabError, match="rotations"):
        random_basis_misalignment(data, data, rotations=0)
    with pytest.raises(ContrastlabError, match="positive eigenvalues"):
        smoothness(torch.ones(3), torch.ones(3))
    with pytest.raises(ContrastlabError, match="eigenvalues but"):
        smoothness(torch.ones(5), torch.ones(4))
    with pytest.raises(ContrastlabError, match="dim"):
        haar_orthogonal(0, torch.Generator())
