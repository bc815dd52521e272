"""Projection heads: the MLP between the encoder's features and the contrastive loss."""

from __future__ import annotations

from torch import nn


def projection_mlp(
    in_dim: int, *, hidden_dim: int, out_dim: int, layers: int = 2, batchnorm: bool = False
) -> nn.Sequential:
    """``layers`` linear maps with ReLU between them: SimCLR's g(.) is 2 layers (v1) or 3 (v2).

    With ``batchnorm`` each hidden linear layer is followed by BatchNorm1d, as in SimCLR v2.
    A single layer is a linear head (the MoCo CIFAR demo).
    """
    modules: list[nn.Module] = []
    dim = in_dim
    for _ in range(layers - 1):
        modules.append(nn.Linear(dim, hidden_dim, bias=not batchnorm))
        if batchnorm:
            modules.append(nn.BatchNorm1d(hidden_dim))
        modules.append(nn.ReLU(inplace=True))
        dim = hidden_dim
    modules.append(nn.Linear(dim, out_dim))
    return nn.Sequential(*modules)
