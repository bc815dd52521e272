"""First-layer covariance alignment (Maennel et al. 2020): patch and filter covariances, the
misalignment score, the eigenvalue mapping and the aligned initialisation, checked by value."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from contrastlab.analysis import covariance
from contrastlab.analysis.covariance import (
    aligned_init_,
    default_init_norm,
    eigenvalue_mapping,
    input_patch_covariance,
    interpolated_mapping,
    misalignment,
    weight_covariance,
)
from contrastlab.core.errors import ContrastlabError


def _orthogonal(d: int, seed: int) -> Tensor:
    """A random orthogonal (d, d) matrix (QR of a Gaussian matrix)."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q


def _data_cov(d: int = 12, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """(Sigma_x, U, lambda) with well-separated eigenvalues 2^-i spanning three decades."""
    u = _orthogonal(d, seed)
    lam = 2.0 ** -torch.arange(d, dtype=torch.float64)
    return u @ torch.diag(lam) @ u.T, u, lam


# ---------------------------------------------------------------- patch covariance


def _brute_force(
    images: np.ndarray, k: int, stride: int, mean: list[float], std: list[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of every patch, by explicit loops over positions."""
    x = (images.astype(np.float64) / 255.0 - np.array(mean)[:, None, None]) / np.array(std)[
        :, None, None
    ]
    rows = []
    for img in x:
        for top in range(0, img.shape[1] - k + 1, stride):
            for left in range(0, img.shape[2] - k + 1, stride):
                rows.append(img[:, top : top + k, left : left + k].reshape(-1))
    data = np.stack(rows)
    return data.mean(axis=0), np.cov(data, rowvar=False)


@pytest.mark.parametrize("stride", [1, 2])
def test_patch_covariance_equals_a_loop_over_patches(stride: int) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 2, 5, 6), dtype=np.uint8)
    mean, std = [0.4, 0.6], [0.2, 0.3]
    want_mean, want_cov = _brute_force(images, 3, stride, mean, std)
    got_mean, got_cov = input_patch_covariance(
        torch.from_numpy(images), 3, stride=stride, mean=mean, std=std
    )
    assert got_cov.shape == (18, 18) and got_cov.dtype == torch.float64
    np.testing.assert_allclose(got_mean.numpy(), want_mean, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_cov.numpy(), want_cov, rtol=0, atol=1e-12)
    # without mean/std the images are only scaled to [0, 1]
    _, raw_cov = _brute_force(images, 3, stride, [0.0, 0.0], [1.0, 1.0])
    _, got_raw = input_patch_covariance(torch.from_numpy(images), (3, 3), stride=stride)
    np.testing.assert_allclose(got_raw.numpy(), raw_cov, rtol=0, atol=1e-12)


def test_patch_subset_is_seeded_and_close_to_the_full_covariance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(1)
    # smooth images (a random walk along rows) so the covariance has structure to estimate
    images = torch.from_numpy(
        np.clip(128 + rng.normal(0, 12, size=(40, 1, 16, 16)).cumsum(axis=3), 0, 255).astype(
            np.uint8
        )
    )
    _, full = input_patch_covariance(images, 3)  # 40 x 14 x 14 = 7840 patches
    _, a = input_patch_covariance(images, 3, max_patches=3000, seed=5)
    _, b = input_patch_covariance(images, 3, max_patches=3000, seed=5)
    _, c = input_patch_covariance(images, 3, max_patches=3000, seed=6)
    assert torch.equal(a, b) and not torch.equal(a, c)
    # unfolding one image at a time picks the same patches
    monkeypatch.setattr(covariance, "_CHUNK_ELEMENTS", 9 * 14 * 14)
    _, one_by_one = input_patch_covariance(images, 3, max_patches=3000, seed=5)
    _, all_one_by_one = input_patch_covariance(images, 3)
    assert torch.allclose(one_by_one, a, rtol=0, atol=1e-14)
    assert torch.allclose(all_one_by_one, full, rtol=0, atol=1e-14)
    # 3000 of 7840 patches: relative Frobenius error ~ sqrt((1 + tr^2/||S||^2) / 3000) < 0.1
    assert float(torch.linalg.matrix_norm(a - full) / torch.linalg.matrix_norm(full)) < 0.1


# ---------------------------------------------------------------- weight covariance


def test_weight_covariance_of_hand_made_filters() -> None:
    w = torch.zeros(2, 1, 2, 2)
    w[0, 0] = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    w[1, 0] = torch.tensor([[0.0, 0.0], [3.0, 1.0]])
    # filters flattened (C, k, k): [1, 2, 0, 0] and [0, 0, 3, 1]; W^T W / 2
    want = (
        torch.tensor([[1, 2, 0, 0], [2, 4, 0, 0], [0, 0, 9, 3], [0, 0, 3, 1]], dtype=torch.float64)
        / 2
    )
    assert torch.equal(weight_covariance(w), want)
    # centred: mean filter [0.5, 1, 1.5, 0.5], deviations +-[0.5, 1, -1.5, -0.5], divided by 1
    d = torch.tensor([0.5, 1.0, -1.5, -0.5], dtype=torch.float64)
    assert torch.allclose(weight_covariance(w, centre=True), 2 * torch.outer(d, d))
    # channel-major order, like unfold: filter (C=2, k=1) flattens to its channels
    two = torch.tensor([[[[1.0]], [[-2.0]]]])
    assert torch.equal(weight_covariance(two), torch.tensor([[1.0, -2.0], [-2.0, 4.0]]).double())


def test_filter_and_patch_flattening_agree() -> None:
    """Conv responses are w_j . x_p, so their covariance over positions is W Sigma_x W^T."""
    rng = np.random.default_rng(2)
    images = torch.from_numpy(rng.integers(0, 256, size=(4, 3, 7, 6), dtype=np.uint8))
    _, sigma_x = input_patch_covariance(images, 3)
    conv = nn.Conv2d(3, 5, 3, bias=False).double()
    with torch.no_grad():
        responses = conv(images.double() / 255).permute(0, 2, 3, 1).reshape(-1, 5)
    w = conv.weight.detach().reshape(5, -1)  # the flattening weight_covariance uses
    assert torch.allclose(torch.cov(responses.T), w @ sigma_x @ w.T, rtol=0, atol=1e-12)
    assert torch.allclose(weight_covariance(conv.weight), w.T @ w / 5, rtol=0, atol=1e-15)


# ---------------------------------------------------------------- misalignment


def test_misalignment_is_zero_for_a_function_of_the_data_covariance() -> None:
    sigma_x, u, lam = _data_cov()
    for g in (lam, lam.sqrt(), torch.ones_like(lam), lam * (1 - lam), 1 / (1 + lam)):
        assert misalignment(u @ torch.diag(g) @ u.T, sigma_x) < 1e-9
    # filters whose second moment is exactly U g U^T: the scaled eigenvectors, shaped as a conv
    g = lam.sqrt()
    filters = (math.sqrt(12) * torch.diag(g.sqrt()) @ u.T).reshape(12, 3, 2, 2)
    assert torch.allclose(weight_covariance(filters), u @ torch.diag(g) @ u.T)
    assert misalignment(weight_covariance(filters), sigma_x) < 1e-9


def test_misalignment_is_positive_when_rotated_and_scale_invariant() -> None:
    sigma_x, u, lam = _data_cov()
    r = _orthogonal(12, seed=9)
    rotated = r @ u @ torch.diag(lam.sqrt()) @ u.T @ r.T
    score = misalignment(rotated, sigma_x)
    assert score > 0.1
    assert misalignment(rotated * 37.0, sigma_x) == pytest.approx(score, rel=1e-12)
    assert misalignment(rotated, sigma_x * 1e-4) == pytest.approx(score, rel=1e-12)
    # a weight covariance with only one off-diagonal entry in the data eigenbasis
    c = torch.diag(lam.sqrt())
    c[0, 1] = c[1, 0] = 0.1
    want = math.sqrt(2 * 0.1**2) / float(torch.linalg.matrix_norm(c))
    assert misalignment(u @ c @ u.T, sigma_x) == pytest.approx(want, rel=1e-9)


def test_misalignment_uses_eigenspaces_for_repeated_data_eigenvalues() -> None:
    # isotropic data: one eigenspace, so only multiples of the identity are aligned
    iso = torch.eye(4, dtype=torch.float64)
    assert misalignment(3 * iso, iso) < 1e-12
    w = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
    # best fit is 2.5 I: ||diag(-1.5, -0.5, 0.5, 1.5)|| / ||diag(1, 2, 3, 4)|| = sqrt(5 / 30)
    assert misalignment(w, iso) == pytest.approx(math.sqrt(5 / 30), rel=1e-12)


# ---------------------------------------------------------------- eigenvalue mapping


def test_eigenvalue_mapping_recovers_g() -> None:
    sigma_x, u, lam = _data_cov()
    g = lam * (1 - lam) + 0.01  # a hump, like the paper's figure
    lambdas, sigmas = eigenvalue_mapping(u @ torch.diag(g) @ u.T, sigma_x)
    order = lam.argsort()
    assert torch.allclose(lambdas, lam[order], rtol=0, atol=1e-12)
    assert torch.allclose(sigmas, g[order], rtol=0, atol=1e-12)
    fitted = interpolated_mapping(lambdas, sigmas)
    assert torch.allclose(fitted(lam), g, atol=1e-12)


# ---------------------------------------------------------------- aligned initialisation


def test_aligned_init_samples_the_aligned_covariance_with_the_default_norm() -> None:
    sigma_x, u, lam = _data_cov()
    conv = nn.Conv2d(3, 20_000, 2, bias=False)  # 20000 filters of dimension 12
    gen = torch.Generator().manual_seed(0)
    aligned_init_(conv, sigma_x, torch.sqrt, generator=gen)
    expected_norm = math.sqrt(20_000 / 3)  # PyTorch default: U(+-1/sqrt(fan_in)), var 1/(3 fan_in)
    assert default_init_norm(conv) == pytest.approx(expected_norm, rel=1e-12)
    assert float(conv.weight.detach().double().norm()) == pytest.approx(expected_norm, rel=1e-6)
    # the target: U f(Lambda) U^T scaled to the default's second moment, tr = 1/3 per filter
    target = u @ torch.diag(lam.sqrt()) @ u.T
    target = target / target.trace() / 3
    sample = weight_covariance(conv.weight)
    # Gaussian sample second moment: E||S - Sigma||_F^2 = (||Sigma||_F^2 + tr(Sigma)^2) / n;
    # allow three times its root (the norm rescaling only shifts S by O(1/sqrt(n)) in scale)
    bound = 3 * math.sqrt(
        (float(torch.linalg.matrix_norm(target)) ** 2 + float(target.trace()) ** 2) / 20_000
    )
    assert float(torch.linalg.matrix_norm(sample - target)) < bound
    # n = 20000 aligned draws: E m^2 ~ (tr^2 / ||Sigma||^2 - 1) / n, about 0.02 here
    assert misalignment(sample, sigma_x) < 0.05


def test_aligned_init_is_far_less_misaligned_than_the_default_init() -> None:
    """A realistic layer: 64 filters of 3 x 5 x 5 = 75 weights, patches of smooth images."""
    rng = np.random.default_rng(3)
    walk = rng.normal(0, 10, size=(64, 3, 20, 20)).cumsum(axis=3).cumsum(axis=2) / 4
    images = torch.from_numpy(np.clip(128 + walk, 0, 255).astype(np.uint8))
    _, sigma_x = input_patch_covariance(images, 5, max_patches=20_000)
    torch.manual_seed(0)
    scores_default, scores_aligned, norms_default = [], [], []
    gen = torch.Generator().manual_seed(1)
    for _ in range(5):
        conv = nn.Conv2d(3, 64, 5)  # PyTorch's default initialisation
        scores_default.append(misalignment(weight_covariance(conv.weight), sigma_x))
        norms_default.append(float(conv.weight.detach().norm()))
        aligned_init_(conv, sigma_x, generator=gen)
        scores_aligned.append(misalignment(weight_covariance(conv.weight), sigma_x))
        assert float(conv.weight.detach().norm()) == pytest.approx(math.sqrt(64 / 3), rel=1e-5)
    # n draws from an aligned N(0, Sigma) give E m^2 ~ (r - 1) / (n + r + 1), with effective rank
    # r = tr(Sigma)^2 / ||Sigma||_F^2 (see `misalignment`): r = 75 for the isotropic default init,
    # r ~ 3.7 for these smooth patches, so about 0.73 and 0.20 are expected
    r = float(sigma_x.trace() ** 2 / torch.linalg.matrix_norm(sigma_x) ** 2)
    expect_default, expect_aligned = math.sqrt(74 / 140), math.sqrt((r - 1) / (65 + r))
    assert np.mean(scores_default) == pytest.approx(expect_default, rel=0.1)
    assert np.mean(scores_aligned) == pytest.approx(expect_aligned, rel=0.3)
    assert max(scores_aligned) < 0.4 * min(scores_default)
    # the default's norm fluctuates around its expectation sqrt(out / 3) by well under 2 %
    assert np.mean(norms_default) == pytest.approx(math.sqrt(64 / 3), rel=0.02)


def test_aligned_init_is_reproducible_and_honours_norm() -> None:
    sigma_x, _, _ = _data_cov()
    a, b = nn.Conv2d(3, 8, 2), nn.Conv2d(3, 8, 2)
    bias = b.bias.detach().clone()
    aligned_init_(a, sigma_x, generator=torch.Generator().manual_seed(4), norm=2.0)
    aligned_init_(b, sigma_x, generator=torch.Generator().manual_seed(4), norm=2.0)
    assert torch.equal(a.weight, b.weight)
    assert torch.equal(b.bias, bias)  # the bias is not touched
    assert float(a.weight.detach().norm()) == pytest.approx(2.0, rel=1e-6)


# ---------------------------------------------------------------- bad input


def test_bad_inputs_give_one_line_errors() -> None:
    images = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    sigma_x, _, _ = _data_cov()
    cases = [
        (lambda: input_patch_covariance(images, (3, 2)), "square"),
        (lambda: input_patch_covariance(images.float(), 3), "uint8"),
        (lambda: input_patch_covariance(images, 9), "larger than the images"),
        (lambda: input_patch_covariance(images, 3, mean=[0.5, 0.5]), "3 channels"),
        (lambda: input_patch_covariance(images, 3, std=[0.5, 0.0, 1.0]), "positive"),
        (lambda: weight_covariance(torch.zeros(4, 3, 3, 2)), "square kernels"),
        (lambda: weight_covariance(torch.zeros(4, 3, 3)), "(out, C, k, k)"),
        (lambda: misalignment(torch.eye(4), torch.eye(5)), "data_cov is (5, 5)"),
        (lambda: misalignment(torch.zeros(4, 4), torch.eye(4)), "all zeros"),
        (lambda: misalignment(torch.ones(4, 3), torch.eye(4)), "square (D, D)"),
        (lambda: eigenvalue_mapping(torch.eye(3), torch.eye(2)), "data_cov is (2, 2)"),
        (
            lambda: aligned_init_(nn.Conv2d(3, 4, 3), sigma_x, generator=torch.Generator()),
            "3 x 3 x 3 = 27",
        ),
        (
            lambda: aligned_init_(nn.Conv2d(3, 4, (2, 4)), sigma_x, generator=torch.Generator()),
            "square",
        ),
        (
            lambda: aligned_init_(
                nn.Conv2d(3, 4, 2), sigma_x, lambda x: -x, generator=torch.Generator()
            ),
            "non-negative",
        ),
    ]
    for call, words in cases:
        with pytest.raises(ContrastlabError) as info:
            call()
        assert words in str(info.value) and "\n" not in str(info.value)
