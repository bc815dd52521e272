"""SimCLR's ``method.simclr`` loss option: NT-Xent stays the default, and every generalized loss
(Chen, Luo & Li 2021) reaches the training step with its settings."""

from __future__ import annotations

import pytest
import torch

from contrastlab.config.schema import SIMCLR_LOSSES, SimclrConfig
from contrastlab.core.errors import ConfigError
from contrastlab.losses import generalized_contrastive, nt_xent
from contrastlab.losses.generalized import Distribution
from contrastlab.methods import SimCLR, build_method

from .conftest import image_batch, tiny_recipe

SIMCLR = "simclr_resnet18w0.125_shapes_16e"


def projections(method: SimCLR, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The step's (z_a, z_b) for ``image_batch()``, replaying the views of generator ``seed``."""
    g = torch.Generator().manual_seed(seed)
    images = image_batch()["image"]
    both = torch.cat([method.views(images, g), method.views(images, g)])
    z_a, z_b = method.head(method.encoder(both)).chunk(2)
    return z_a, z_b


def step_loss(method: SimCLR, seed: int) -> torch.Tensor:
    method.eval()  # BatchNorm in eval mode: the replayed projections are the step's
    loss, _ = method(image_batch(), torch.Generator().manual_seed(seed))
    return loss


def test_default_is_plain_nt_xent() -> None:
    recipe = tiny_recipe(SIMCLR)
    assert recipe.method.simclr == SimclrConfig() and recipe.method.simclr.loss == "nt_xent"
    method = build_method(recipe)
    assert isinstance(method, SimCLR)
    loss = step_loss(method, 3)
    z_a, z_b = projections(method, 3)
    torch.testing.assert_close(loss, nt_xent(z_a, z_b, recipe.method.temperature))


def test_cross_view_only_drops_same_view_negatives() -> None:
    method = build_method(tiny_recipe(SIMCLR, method__simclr__cross_view_only=True))
    assert isinstance(method, SimCLR)
    loss = step_loss(method, 4)
    z_a, z_b = projections(method, 4)
    torch.testing.assert_close(loss, nt_xent(z_a, z_b, 0.2, cross_view_only=True))
    assert not torch.allclose(loss, nt_xent(z_a, z_b, 0.2))


@pytest.mark.parametrize(
    ("loss", "normalized"),
    [
        ("logsumexp", True),
        ("swd_normal", False),
        ("swd_hypersphere", True),
        ("swd_hypercube", False),
    ],
)
def test_generalized_loss_reaches_the_step(loss: str, normalized: bool) -> None:
    """scale x generalized(z_a, z_b, loss, weight, tau, the paper's normalisation), with the SWD
    draws taken from the step's generator after the two views."""
    settings = {"method__simclr__loss": loss, "method__simclr__weight": 0.7}
    method = build_method(tiny_recipe(SIMCLR, method__simclr__scale=3.0, **settings))
    assert isinstance(method, SimCLR) and method.loss_config.normalized() is normalized
    got = step_loss(method, 5)
    g = torch.Generator().manual_seed(5)
    images = image_batch()["image"]
    both = torch.cat([method.views(images, g), method.views(images, g)])
    z_a, z_b = method.head(method.encoder(both)).chunk(2)
    distribution: Distribution = loss  # type: ignore[assignment]
    expected = 3.0 * generalized_contrastive(
        z_a, z_b, distribution, 0.7, 0.2, normalized, generator=g
    )
    torch.testing.assert_close(got, expected)
    got.backward()
    assert all(p.grad is not None for p in method.head.parameters())


def test_logsumexp_mask_self_and_normalize_override() -> None:
    settings = {"method__simclr__loss": "logsumexp", "method__simclr__mask_self": True}
    method = build_method(tiny_recipe(SIMCLR, method__simclr__normalize=False, **settings))
    assert isinstance(method, SimCLR)
    got = step_loss(method, 6)
    z_a, z_b = projections(method, 6)
    expected = generalized_contrastive(z_a, z_b, "logsumexp", 1.0, 0.2, False, mask_self=True)
    torch.testing.assert_close(got, expected)


def test_swd_is_repeatable_from_the_generator() -> None:
    method = build_method(tiny_recipe(SIMCLR, method__simclr__loss="swd_normal"))
    assert isinstance(method, SimCLR)
    torch.testing.assert_close(step_loss(method, 7), step_loss(method, 7))
    assert not torch.allclose(step_loss(method, 7), step_loss(method, 8))


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"method__simclr__loss": "lse"}, "method.simclr.loss"),
        ({"method__simclr__weight": 2.0}, "method.simclr.weight"),  # nt_xent takes no weight
        ({"method__simclr__loss": "swd_normal", "method__simclr__weight": -1.0}, "weight"),
        ({"method__simclr__loss": "swd_normal", "method__simclr__scale": 0.0}, "scale"),
        ({"method__simclr__loss": "swd_normal", "method__simclr__mask_self": True}, "mask_self"),
        ({"method__simclr__loss": "logsumexp", "method__simclr__cross_view_only": True}, "cross"),
        ({"method__name": "clae", "method__simclr__loss": "logsumexp"}, "method.simclr.loss"),
        ({"method__name": "supcon", "method__simclr__loss": "swd_normal"}, "method.simclr"),
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        tiny_recipe(SIMCLR, **overrides)


def test_every_loss_name_is_accepted() -> None:
    for loss in SIMCLR_LOSSES:
        assert tiny_recipe(SIMCLR, method__simclr__loss=loss).method.simclr.loss == loss
