"""SupCon with one label per image is SimCLR; L_in is selectable; CE is cross-entropy."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from contrastlab.losses import supcon
from contrastlab.methods import CrossEntropy, SimCLR, SupCon, build_method

from .conftest import image_batch, tiny_recipe

SUPCON = "supcon_resnet18w0.125_shapes_16e"


def test_one_label_per_image_equals_the_self_supervised_loss() -> None:
    settings = {"method__temperature": 0.3, "method__classes": 8}
    sup = build_method(tiny_recipe(SUPCON, **settings))
    simclr = build_method(tiny_recipe(SUPCON, method__name="simclr", method__temperature=0.3))
    assert isinstance(sup, SupCon) and isinstance(simclr, SimCLR)
    simclr.load_state_dict(sup.state_dict())  # same modules, same weights
    batch = image_batch()
    batch["label"] = torch.arange(8)  # every image its own class
    state = torch.Generator().manual_seed(5).get_state()
    loss_sup, _ = sup(batch, torch.Generator().set_state(state))
    loss_simclr, _ = simclr(batch, torch.Generator().set_state(state))
    torch.testing.assert_close(loss_sup, loss_simclr, rtol=1e-5, atol=1e-6)
    loss_sup.backward()
    loss_simclr.backward()
    for a, b in zip(sup.parameters(), simclr.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("variant", ["out", "in"])
def test_variant_reaches_the_loss(variant: str) -> None:
    method = build_method(tiny_recipe(SUPCON, method__supcon__variant=variant, method__classes=3))
    assert isinstance(method, SupCon)
    method.eval()
    batch = image_batch()  # labels 0, 1, 2, 0, ...: several positives per anchor
    state = torch.Generator().manual_seed(1).get_state()
    loss, _ = method(batch, torch.Generator().set_state(state))
    g = torch.Generator().set_state(state)
    both = torch.cat([method.views(batch["image"], g), method.views(batch["image"], g)])
    z_a, z_b = method.head(method.encoder(both)).chunk(2)
    features = torch.stack([z_a, z_b], 1)
    expected = supcon(features, batch["label"], 0.1, variant=variant)  # type: ignore[arg-type]
    torch.testing.assert_close(loss, expected)
    other = supcon(features, batch["label"], 0.1, variant="in" if variant == "out" else "out")
    assert not torch.allclose(loss, other)


def test_cross_entropy_baseline() -> None:
    method = build_method(tiny_recipe(SUPCON, method__name="ce", method__classes=3))
    assert isinstance(method, CrossEntropy)
    method.eval()
    batch = image_batch()
    state = torch.Generator().manual_seed(2).get_state()
    loss, metrics = method(batch, torch.Generator().set_state(state))
    view = method.views(batch["image"], torch.Generator().set_state(state))
    logits = method.classifier(method.encoder(view))
    torch.testing.assert_close(loss, nn.functional.cross_entropy(logits, batch["label"]))
    top1 = (logits.argmax(1) == batch["label"]).float().mean()
    torch.testing.assert_close(metrics["train_top1"], top1)


def test_same_init_as_simclr() -> None:
    """CE's encoder starts where SimCLR's and SupCon's do under the same seed."""
    ce = build_method(tiny_recipe(SUPCON, method__name="ce", method__classes=3))
    sup = build_method(tiny_recipe(SUPCON, method__classes=3))
    for (name, a), b in zip(
        ce.encoder.state_dict().items(), sup.encoder.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
