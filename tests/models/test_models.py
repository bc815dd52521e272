"""Backbones and heads: shapes, widths, torchvision parity, normalisation inside the encoder."""

from __future__ import annotations

import pytest
import torch
import torchvision

from contrastlab.config.schema import DataConfig, ModelConfig
from contrastlab.models import (
    build_encoder,
    build_resnet,
    channels_last_allowed,
    projection_mlp,
    use_channels_last,
)


def test_width_one_keeps_torchvision_keys_and_shapes() -> None:
    ours, dim = build_resnet("resnet18")
    reference = torchvision.models.resnet18()
    reference_state = {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    assert dim == 512
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in reference_state.items()
    }


@pytest.mark.parametrize(
    ("name", "width", "dim"),
    [("resnet18", 0.125, 64), ("resnet34", 0.25, 128), ("resnet50", 0.125, 256)],
)
def test_width_multiplier_scales_every_stage(name: str, width: float, dim: int) -> None:
    model, feature_dim = build_resnet(name, width=width, cifar_stem=True)
    assert feature_dim == dim
    assert model.conv1.out_channels == round(64 * width)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, dim)


def test_cifar_stem_keeps_resolution() -> None:
    model, _ = build_resnet("resnet18", width=0.125, cifar_stem=True)
    standard, _ = build_resnet("resnet18", width=0.125, cifar_stem=False)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, torch.nn.Identity)
    x = torch.randn(1, 3, 32, 32)
    stem = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    assert stem.shape[-1] == 32
    assert standard.maxpool(standard.conv1(x)).shape[-1] == 8


def test_projection_mlp_layers() -> None:
    head = projection_mlp(64, hidden_dim=32, out_dim=16, layers=3, batchnorm=True)
    linears = [m for m in head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 32), (32, 32), (32, 16)]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in head) == 2
    assert len(projection_mlp(64, hidden_dim=32, out_dim=16, layers=1)) == 1


def test_output_batchnorm_centres_each_embedding_dimension() -> None:
    head = projection_mlp(8, hidden_dim=16, out_dim=4, output_batchnorm=True).train()
    out_bn = head[-1]
    assert isinstance(out_bn, torch.nn.BatchNorm1d) and not out_bn.affine
    x = torch.randn(32, 8, generator=torch.Generator().manual_seed(0)) + 5.0
    z = head(x)  # inputs far from zero: without the BN the outputs share a common vector
    y = head[:-1](x)
    expected = (y - y.mean(0)) / torch.sqrt(y.var(0, unbiased=False) + out_bn.eps)
    torch.testing.assert_close(z, expected)
    torch.testing.assert_close(z.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    assert len(list(head.parameters())) == 4  # two linear layers; the output BN adds none


def test_encoder_normalises_inside() -> None:
    torch.manual_seed(0)
    data = DataConfig(mean=(0.5, 0.25, 0.0), std=(0.5, 0.5, 2.0))
    encoder = build_encoder(ModelConfig(width=0.125), data).eval()
    x = torch.rand(3, 3, 32, 32)
    mean = torch.tensor(data.mean).view(1, 3, 1, 1)
    std = torch.tensor(data.std).view(1, 3, 1, 1)
    torch.testing.assert_close(encoder(x), encoder.backbone((x - mean) / std))
    state = encoder.state_dict()
    assert torch.equal(state["mean"].flatten(), mean.flatten())


def test_channels_last_auto_means_cuda_only() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert channels_last_allowed("auto", cuda) and not channels_last_allowed("auto", cpu)
    assert channels_last_allowed(True, cuda) and channels_last_allowed(True, cpu)
    assert not channels_last_allowed(False, cuda) and not channels_last_allowed(False, cpu)


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                  reason="no CUDA"))]  # fmt: skip


@pytest.mark.parametrize("device", DEVICES)
def test_channels_last_changes_layout_not_values(device: str) -> None:
    torch.manual_seed(0)
    encoder = build_encoder(ModelConfig(width=0.125), DataConfig()).to(device).eval()
    x = torch.rand(4, 3, 32, 32, device=device)
    before = encoder(x)
    use_channels_last(encoder)
    assert encoder.channels_last
    assert encoder.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(encoder(x), before, rtol=1e-3, atol=1e-4)
