"""Which feature spaces evaluation can read from each method (eval.representation)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from contrastlab.core.errors import ConfigError
from contrastlab.methods import build_method
from contrastlab.methods.base import method_representation, method_representations
from contrastlab.models.heads import HeadFeatures, projection_mlp

from .conftest import tiny_recipe


@pytest.mark.parametrize(
    "name", ["simclr_resnet18w0.125_shapes_16e", "moco_resnet18w0.125_shapes_16e"]
)
def test_embedding_is_the_unit_head_output(name: str) -> None:
    method = build_method(tiny_recipe(name)).eval()
    spaces = method_representations(method)
    assert list(spaces) == ["backbone", "embedding"]
    x = torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        h = method.encoder(x)
        assert torch.equal(spaces["backbone"](x), h)
        expected = F.normalize(method.head(h), dim=1)
        torch.testing.assert_close(spaces["embedding"](x), expected)
        assert torch.allclose(spaces["embedding"](x).norm(dim=1), torch.ones(5))


def test_method_without_projection_head_offers_only_the_backbone() -> None:
    method = build_method(tiny_recipe("iic_resnet18w0.125_digits_200e", method__classes=10))
    assert list(method_representations(method)) == ["backbone"]
    with pytest.raises(ConfigError, match="'embedding' is not one of this method's: backbone"):
        method_representation(method, "embedding")


def test_hidden_features_are_the_inputs_to_each_last_linear_layer() -> None:
    encoder = torch.nn.Identity()
    mlp = projection_mlp(6, hidden_dim=4, out_dim=3, layers=2)
    linear = projection_mlp(6, hidden_dim=4, out_dim=3, layers=1)
    x = torch.randn(7, 6)
    features = HeadFeatures(encoder, [mlp, linear], hidden=True)(x)
    assert features.shape == (7, 4 + 6)
    torch.testing.assert_close(features[:, :4], torch.relu(mlp[0](x)))
    torch.testing.assert_close(features[:, 4:], x)  # a linear head's input is the features
    with_bn = projection_mlp(6, hidden_dim=4, out_dim=3, output_batchnorm=True).eval()
    hidden = HeadFeatures(encoder, [with_bn], hidden=True)(x)  # before the last linear and its BN
    torch.testing.assert_close(hidden, torch.relu(with_bn[0](x)))
