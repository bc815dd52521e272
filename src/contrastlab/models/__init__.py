"""Backbones, projection heads and the encoder wrapper."""

from contrastlab.models.encoder import (
    Encoder,
    build_encoder,
    channels_last_allowed,
    use_channels_last,
)
from contrastlab.models.heads import projection_mlp
from contrastlab.models.resnet import build_resnet

__all__ = [
    "Encoder",
    "build_encoder",
    "build_resnet",
    "channels_last_allowed",
    "projection_mlp",
    "use_channels_last",
]
