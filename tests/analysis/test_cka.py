"""CKA: known answers (self-similarity, invariances, closed forms, unbiasedness) and the layers."""

from __future__ import annotations

import copy
from typing import Literal

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from torchvision.models import ResNet

from contrastlab.analysis.cka import (
    MinibatchCKA,
    cka_matrix,
    layer_features,
    linear_cka,
    minibatch_cka,
    rbf_cka,
)
from contrastlab.analysis.layers import batch_bounds
from contrastlab.core.errors import ContrastlabError
from contrastlab.models.resnet import build_resnet

F64 = torch.float64


def gaussian(n: int, d: int, seed: int) -> Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=F64)


def orthogonal(d: int, seed: int) -> Tensor:
    q, _ = torch.linalg.qr(gaussian(d, d, seed))
    return q


def related(n: int, seed: int) -> tuple[Tensor, Tensor, float]:
    """x ~ N(0, I_8), y = x W + noise, and their population linear CKA.

    Cov(x) = I, Cov(x, y) = W, Cov(y) = W^T W + I, so CKA = ||W||_F^2 / (sqrt(8) ||W^T W + I||_F).
    """
    w = gaussian(8, 6, 99)
    x = gaussian(n, 8, seed)
    y = x @ w + gaussian(n, 6, seed + 1000)
    population = (w**2).sum() / (8**0.5 * torch.linalg.matrix_norm(w.T @ w + torch.eye(6)))
    return x, y, float(population)


CKAS = {"linear": linear_cka, "rbf": rbf_cka}


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_features_have_cka_one_with_themselves(kernel: Literal["linear", "rbf"]) -> None:
    x = gaussian(50, 7, 0)
    assert CKAS[kernel](x, x) == pytest.approx(1.0, abs=1e-12)
    estimate = minibatch_cka(x.split(10), x.split(10), kernel=kernel)
    assert estimate == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x.float().numpy(), x.float().numpy()) == pytest.approx(1.0, abs=1e-12)


def test_linear_cka_equals_the_feature_space_formula() -> None:
    x, y = gaussian(40, 5, 1), gaussian(40, 9, 2) + gaussian(40, 5, 1) @ gaussian(5, 9, 3)
    xc, yc = x - x.mean(0), y - y.mean(0)
    expected = (yc.T @ xc).norm() ** 2 / ((xc.T @ xc).norm() * (yc.T @ yc).norm())
    assert linear_cka(x, y) == pytest.approx(float(expected), abs=1e-12)
    assert 0.2 < float(expected) < 0.95  # a value between the trivial ends


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_invariant_to_orthogonal_maps_isotropic_scaling_and_translation(kernel: str) -> None:
    cka = CKAS[kernel]
    x, y, _ = related(60, 4)
    reference = cka(x, y)
    q_x, q_y = orthogonal(8, 5), orthogonal(6, 6)
    assert cka(x @ q_x, y @ q_y) == pytest.approx(reference, abs=1e-10)
    assert cka(3.7 * x, 0.02 * y) == pytest.approx(reference, abs=1e-10)
    assert cka(x + 5.0, y - 2.0) == pytest.approx(reference, abs=1e-10)
    assert cka(x, 2.5 * x @ q_x) == pytest.approx(1.0, abs=1e-10)


def test_not_invariant_to_an_arbitrary_invertible_linear_map() -> None:
    # x ~ N(0, I_10), A = diag(1..10): population CKA(x, xA) = ||A||_F^2 / (sqrt(10) ||A^2||_F)
    x, a = gaussian(1000, 10, 7), torch.diag(torch.arange(1.0, 11.0, dtype=F64))
    population = float((a**2).sum() / (10**0.5 * (a @ a).norm()))
    assert population == pytest.approx(0.765, abs=1e-3)
    assert linear_cka(x, x @ a) == pytest.approx(population, abs=0.02)  # sample sd ~ 0.005
    assert rbf_cka(x, x @ a) < 0.9


def song_unbiased_hsic(k: Tensor, l_: Tensor) -> float:
    """Song et al. 2012, eq. (5), written out term by term."""
    n = k.shape[0]
    k, l_ = k - torch.diag(k.diag()), l_ - torch.diag(l_.diag())
    one = torch.ones(n, dtype=F64)
    total = (
        torch.trace(k @ l_)
        + (one @ k @ one) * (one @ l_ @ one) / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * (one @ k @ l_ @ one)
    )
    return float(total) / (n * (n - 3))


def test_unbiased_estimator_matches_song_et_al_term_by_term() -> None:
    x, y, _ = related(12, 8)
    k, l_ = x @ x.T, y @ y.T
    expected = (
        song_unbiased_hsic(k, l_) / (song_unbiased_hsic(k, k) * song_unbiased_hsic(l_, l_)) ** 0.5
    )
    assert minibatch_cka([x], [y]) == pytest.approx(expected, abs=1e-12)

    acc = MinibatchCKA(1, 1)
    acc.update([x], [y])
    acc.update([x[:6]], [y[:6]])  # batches count equally, whatever their size
    small_k, small_l = k[:6, :6], l_[:6, :6]
    assert acc.hsic_ab[0, 0] == pytest.approx(
        song_unbiased_hsic(k, l_) + song_unbiased_hsic(small_k, small_l), abs=1e-10
    )


def test_minibatch_estimate_approaches_the_full_data_value_and_is_reproducible() -> None:
    # Both estimators converge to the population CKA (about 0.606 here). Over 10 seeds at
    # n = 4096 their difference had sd 7e-4 (max 2.2e-3) and each had sd about 3e-3, so the
    # tolerances below are about 7 and 5 standard deviations.
    x, y, population = related(4096, 9)
    full = linear_cka(x, y)
    estimate = minibatch_cka(x.split(128), y.split(128))  # 32 batches
    assert estimate == pytest.approx(full, abs=5e-3)
    assert estimate == pytest.approx(population, abs=0.015)
    assert full == pytest.approx(population, abs=0.015)
    assert minibatch_cka(x.split(128), y.split(128)) == estimate  # exactly


def test_independent_features_give_unbiased_cka_near_zero() -> None:
    x, y = gaussian(4096, 32, 10), gaussian(4096, 32, 11)
    # 10 seeds: mean 6e-4, sd 1e-3, max |value| 2.2e-3
    assert abs(minibatch_cka(x.split(256), y.split(256))) < 0.01
    # the biased full-data estimate is not near 0 at small n: E||Y^T X||^2 ~ n d1 d2 and
    # ||X^T X||^2 ~ n^2 d (1 + d / n) give sqrt(d1 d2) / (n (1 + d / n)) = 1/3 at n = 64, d = 32
    assert linear_cka(x[:64], y[:64]) == pytest.approx(1 / 3, abs=0.06)


def test_feature_errors_name_the_bad_value() -> None:
    x = gaussian(10, 3, 0)
    with pytest.raises(ContrastlabError, match="x has 10 samples, y has 9"):
        linear_cka(x, x[:9])
    with pytest.raises(ContrastlabError, match=r"2-D .* got shape \(10,\)"):
        linear_cka(x[:, 0], x)
    with pytest.raises(ContrastlabError, match="y is the same for every sample"):
        linear_cka(x, torch.ones(10, 2))
    with pytest.raises(ContrastlabError, match="non-finite"):
        rbf_cka(x, x.masked_fill(x > 1, float("nan")))
    with pytest.raises(ContrastlabError, match="sigma_fraction must be positive, got 0"):
        rbf_cka(x, x, sigma_fraction=0)
    with pytest.raises(ContrastlabError, match="kernel must be linear or rbf, got 'cosine'"):
        minibatch_cka([x], [x], kernel="cosine")  # type: ignore[arg-type]
    with pytest.raises(ContrastlabError, match="at least 4 samples per batch, got 3"):
        minibatch_cka([x[:3]], [x[:3]])
    with pytest.raises(ContrastlabError, match="batch sizes \\[5, 10\\]"):
        minibatch_cka([x], [x[:5]])
    with pytest.raises(ContrastlabError, match="different numbers of batches"):
        minibatch_cka(x.split(5), x[:5].split(5))
    with pytest.raises(ContrastlabError, match="do not vary"):
        minibatch_cka([x], [torch.zeros(10, 4)])


def tiny_resnet() -> ResNet:
    torch.manual_seed(0)
    model, _ = build_resnet("resnet18", width=0.0625, cifar_stem=True)
    return model


def images(n: int, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 16, 16), generator=g, dtype=torch.uint8)


def test_layer_features_shapes_pooling_and_restored_modes() -> None:
    model = tiny_resnet().train()
    model.layer2.eval()  # a mixed state, to be restored exactly
    before = {name: m.training for name, m in model.named_modules()}
    layers = ["conv1", "layer1", "layer3.1.bn2", "layer4", "avgpool"]
    batches = list(layer_features(model, images(10), layers, batch_size=4))
    assert [b["layer1"].shape[0] for b in batches] == [4, 4, 2]
    widths = {name: out.shape[1] for name, out in batches[0].items()}
    expected = {"conv1": 1024, "layer1": 1024, "layer3.1.bn2": 256, "layer4": 128, "avgpool": 32}
    assert widths == expected  # C x H x W: 4 x 16 x 16, 4 x 16 x 16, 16 x 4 x 4, 32 x 2 x 2, 32
    assert {name: m.training for name, m in model.named_modules()} == before
    assert not model.conv1._forward_hooks  # hooks removed

    pooled = next(layer_features(model, images(10), ["layer4", "avgpool"], batch_size=4, pool=True))
    assert pooled["layer4"].shape == (4, 32)
    torch.testing.assert_close(pooled["layer4"], pooled["avgpool"])
    # eval mode: BatchNorm uses running statistics, so the batching does not matter
    whole = next(layer_features(model, images(10), ["layer3"], batch_size=10))["layer3"]
    parts = torch.cat(
        [b["layer3"] for b in layer_features(model, images(10), ["layer3"], batch_size=3)]
    )
    torch.testing.assert_close(whole, parts)


def test_layer_features_errors() -> None:
    model = tiny_resnet()
    with pytest.raises(
        ContrastlabError, match=r"no module 'layer9'; valid names include conv1, bn1"
    ):
        layer_features(model, images(4), ["layer1", "layer9"])
    with pytest.raises(ContrastlabError, match="'layer1' more than once"):
        layer_features(model, images(4), ["layer1", "layer1"])
    with pytest.raises(ContrastlabError, match="non-empty list of module names"):
        layer_features(model, images(4), "layer1")
    with pytest.raises(ContrastlabError, match="must be a uint8 tensor"):
        layer_features(model, images(4).float(), ["layer1"])
    with pytest.raises(ContrastlabError, match="batch_size must be at least 1, got 0"):
        layer_features(model, images(4), ["layer1"], batch_size=0)
    shared = nn.ReLU()
    twice = nn.Sequential(nn.Conv2d(3, 2, 1), shared, shared)
    with pytest.raises(ContrastlabError, match="'1' ran 2 times"):
        next(layer_features(twice, images(4), ["1"]))
    assert not shared._forward_hooks


LAYERS = ["conv1", "layer1", "layer2", "layer3", "layer4"]


def test_cka_matrix_of_a_model_with_itself_has_a_unit_diagonal() -> None:
    model, data = tiny_resnet(), images(48)
    same = cka_matrix(model, model, data, LAYERS, LAYERS, batch_size=16)
    twin = cka_matrix(model, copy.deepcopy(model), data, LAYERS, LAYERS, batch_size=16)
    assert same.shape == (5, 5) and same.dtype == np.float64
    np.testing.assert_allclose(np.diag(same), 1.0, atol=1e-6)
    np.testing.assert_allclose(twin, same, atol=1e-6)
    np.testing.assert_allclose(same, same.T, atol=1e-12)
    assert (same[~np.eye(5, dtype=bool)] < 0.999).all()  # distinct layers are not identical
    rbf = cka_matrix(model, model, data, LAYERS[:2], LAYERS[1:3], kernel="rbf", batch_size=16)
    assert rbf.shape == (2, 2) and rbf[1, 0] == pytest.approx(1.0, abs=1e-6)


def test_cka_matrix_of_two_models_is_reproducible_and_uses_every_image() -> None:
    a = tiny_resnet()
    torch.manual_seed(1)
    b, _ = build_resnet("resnet18", width=0.0625, cifar_stem=True)
    data = images(41)  # batches of 12: 12, 12, 17 (a last batch of 5 is allowed; 1 is not)
    first = cka_matrix(a, b, data, LAYERS[:3], LAYERS[3:], batch_size=12, pool=True)
    np.testing.assert_array_equal(
        first, cka_matrix(a, b, data, LAYERS[:3], LAYERS[3:], batch_size=12, pool=True)
    )
    assert first.shape == (3, 2) and np.isfinite(first).all() and (first < 0.999).all()
    assert batch_bounds(41, 12, 4) == [(0, 12), (12, 24), (24, 36), (36, 41)]
    assert batch_bounds(38, 12, 4) == [(0, 12), (12, 24), (24, 38)]
    assert batch_bounds(3, 12, 4) == [(0, 3)]


def test_cka_matrix_errors() -> None:
    model = tiny_resnet()
    with pytest.raises(ContrastlabError, match="layers_b: the model has no module 'fc1'"):
        cka_matrix(model, model, images(8), ["layer1"], ["fc1"])
    with pytest.raises(ContrastlabError, match="at least 4 images, got 3"):
        cka_matrix(model, model, images(3), ["layer1"], ["layer2"])
    with pytest.raises(ContrastlabError, match=r"batch_size must be at least 4 .* got 2"):
        cka_matrix(model, model, images(8), ["layer1"], ["layer2"], batch_size=2)
    conv = nn.Conv2d(3, 2, 1, bias=False)
    nn.init.constant_(conv.weight, -1.0)  # <= 0 on [0, 1] images: the ReLU is always 0
    dead = nn.Sequential(conv, nn.ReLU(), nn.Flatten())
    with pytest.raises(ContrastlabError, match="layer '1' of side b: its features do not vary"):
        cka_matrix(model, dead, images(8), ["layer1"], ["1"])
    assert model.training and dead.training
