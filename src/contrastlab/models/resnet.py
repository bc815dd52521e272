"""torchvision ResNets, optionally narrowed and with the CIFAR stem, as feature extractors.

The CIFAR stem (a 3x3 stride-1 first convolution and no max-pool) is the variant used for 32x32
inputs by SimCLR's CIFAR-10 experiments and the MoCo CIFAR demo. ``width`` multiplies every stage's
channel count (64, 128, 256, 512 at width 1); the blocks are torchvision's own, rebuilt through
``ResNet._make_layer`` so that at width 1 the state dict keys match torchvision's.
"""

from __future__ import annotations

from torch import nn
from torchvision.models import resnet

_LAYERS: dict[str, tuple[type[resnet.BasicBlock] | type[resnet.Bottleneck], list[int]]] = {
    "resnet18": (resnet.BasicBlock, [2, 2, 2, 2]),
    "resnet34": (resnet.BasicBlock, [3, 4, 6, 3]),
    "resnet50": (resnet.Bottleneck, [3, 4, 6, 3]),
}


def build_resnet(
    name: str, *, width: float = 1.0, cifar_stem: bool = False, in_channels: int = 3
) -> tuple[resnet.ResNet, int]:
    """A torchvision ResNet without classifier (``fc`` is the identity), and its feature width."""
    if name not in _LAYERS:
        raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(_LAYERS)}")
    block, layers = _LAYERS[name]
    model = resnet.ResNet(block, layers)
    base = max(1, round(64 * width))
    if base != 64 or cifar_stem or in_channels != 3:
        _rebuild(model, block, layers, base, cifar_stem, in_channels)
    feature_dim = 8 * base * block.expansion
    model.fc = nn.Identity()
    return model, feature_dim


def _rebuild(
    model: resnet.ResNet,
    block: type[resnet.BasicBlock] | type[resnet.Bottleneck],
    layers: list[int],
    base: int,
    cifar_stem: bool,
    in_channels: int,
) -> None:
    if cifar_stem:
        model.conv1 = nn.Conv2d(in_channels, base, 3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    else:
        model.conv1 = nn.Conv2d(in_channels, base, 7, stride=2, padding=3, bias=False)
    model.bn1 = nn.BatchNorm2d(base)
    model.inplanes = base
    model.layer1 = model._make_layer(block, base, layers[0])
    model.layer2 = model._make_layer(block, 2 * base, layers[1], stride=2)
    model.layer3 = model._make_layer(block, 4 * base, layers[2], stride=2)
    model.layer4 = model._make_layer(block, 8 * base, layers[3], stride=2)
    for module in model.modules():  # torchvision's initialisation, for the rebuilt modules
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
