"""The encoder every method trains and every evaluation reads: normalisation + backbone."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from contrastlab.config.schema import DataConfig, ModelConfig
from contrastlab.core.errors import ConfigError
from contrastlab.models.resnet import build_resnet
from contrastlab.models.sobel import Sobel


class Encoder(nn.Module):
    """Maps float images in [0, 1], (B, C, H, W), to features (B, feature_dim).

    Normalisation lives inside the encoder (as buffers) so that a checkpoint carries it: evaluating
    or transferring an encoder needs no knowledge of the recipe's mean and std.
    """

    def __init__(
        self, backbone: nn.Module, feature_dim: int, mean: Sequence[float], std: Sequence[float]
    ):
        super().__init__()
        self.backbone = backbone
        self.feature_dim = feature_dim
        self.channels_last = False  # set by `use_channels_last`; a speed-up for convolutions
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        x = (images - mean) / std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out: torch.Tensor = self.backbone(x)
        return out


def channels_last_allowed(requested: bool | str, device: torch.device) -> bool:
    """Whether to use channels-last memory: ``train.channels_last`` true, or auto on CUDA."""
    return requested is True or (requested == "auto" and device.type == "cuda")


def use_channels_last(module: nn.Module) -> None:
    """Store ``module``'s conv weights channels-last and feed its encoders channels-last inputs.

    On the CPU only when asked for (``train.channels_last: true``): with torch 2.14.1 here a
    ResNet-18 (width 1, CIFAR stem) SimCLR step ran 1.35x faster (benchmarks/train_step.py) and
    two identical runs of every method ended bit-identical with 1 and 2 threads; an older build
    had differed by up to 3e-3 after 3 steps, so it is not the CPU default. A forward differs
    from the contiguous layout's in the last float bits (another summation order); over a run
    the weights drift apart like any two summation orders.
    """
    module.to(memory_format=torch.channels_last)
    for sub in module.modules():
        if isinstance(sub, Encoder):
            sub.channels_last = True


def build_encoder(model: ModelConfig, data: DataConfig, *, sobel: bool = False) -> Encoder:
    """The recipe's ResNet inside an `Encoder`; with ``sobel``, behind a fixed `Sobel` filter.

    The input channels, mean and std are `DataConfig.encoder_inputs`: the data's, plus RandBit's
    bit planes with ``data.probe: randbit``.
    """
    channels, mean, std = data.encoder_inputs()
    if sobel and channels != data.channels:
        raise ConfigError(
            "method.iic.sobel averages the channels, bit planes included; "
            "it cannot be used with data.probe randbit"
        )
    resnet, feature_dim = build_resnet(
        model.backbone,
        width=model.width,
        cifar_stem=model.cifar_stem,
        in_channels=2 if sobel else channels,
    )
    backbone: nn.Module = nn.Sequential(Sobel(), resnet) if sobel else resnet
    return Encoder(backbone, feature_dim, mean, std)
