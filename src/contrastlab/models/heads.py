"""Projection heads: the MLP between the encoder's features and the contrastive loss."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def projection_mlp(
    in_dim: int,
    *,
    hidden_dim: int,
    out_dim: int,
    layers: int = 2,
    batchnorm: bool = False,
    output_batchnorm: bool = False,
) -> nn.Sequential:
    """``layers`` linear maps with ReLU between them: SimCLR's g(.) is 2 layers (v1) or 3 (v2).

    With ``batchnorm`` each hidden linear layer is followed by BatchNorm1d, as in SimCLR v2.
    A single layer is a linear head (the MoCo CIFAR demo). With ``output_batchnorm`` the output
    goes through a BatchNorm1d without affine parameters, as in MoCo v3's heads: each embedding
    dimension is centred over the batch, so no common vector can dominate the unit embeddings.
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
    if output_batchnorm:
        modules.append(nn.BatchNorm1d(out_dim, affine=False))
    return nn.Sequential(*modules)


def _last_linear(head: nn.Sequential) -> int:
    return max(i for i, module in enumerate(head) if isinstance(module, nn.Linear))


class HeadFeatures(nn.Module):
    """Features of an encoder through one or more heads, for evaluation: the concatenated unit
    embeddings (``hidden=False``), or the concatenated inputs to the heads' last linear layers
    (``hidden=True``: the hidden layer of an MLP head; the features themselves for a linear one)."""

    def __init__(self, encoder: nn.Module, heads: Sequence[nn.Sequential], hidden: bool) -> None:
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleList(heads)
        self.hidden = hidden

    def forward(self, images: Tensor) -> Tensor:
        h = self.encoder(images)
        if not self.hidden:
            return torch.cat([F.normalize(head(h), dim=1) for head in self.heads], dim=1)
        heads: list[nn.Sequential] = list(self.heads)  # type: ignore[arg-type]
        parts = [head[: _last_linear(head)](h) for head in heads]
        return torch.cat(parts, dim=1)
