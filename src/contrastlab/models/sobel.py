"""IIC's input filter: greyscale, then the Sobel x and y gradients (fixed, not learned)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Sobel(nn.Module):
    """(B, C, H, W) -> (B, 2, H, W): Sobel x and y of the channel mean, zero-padded to keep size.

    Ji et al. (IIC, 2019) feed CIFAR and STL images this way so that clustering cannot latch onto
    colour alone. The kernels are buffers, so they travel with a checkpoint and get no gradient.
    """

    def __init__(self) -> None:
        super().__init__()
        gx = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
        self.register_buffer("kernels", torch.stack([gx, gx.T]).unsqueeze(1))  # (2, 1, 3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x.mean(dim=1, keepdim=True), self.get_buffer("kernels"), padding=1)
