"""Batched Gaussian blur with a per-image sigma, as in SimCLR's ImageNet augmentation.

SimCLR (Chen et al., ICML 2020, appendix A) blurs with probability 0.5, sigma ~ U(0.1, 2.0) and a
kernel of about 10% of the image side. The kernel and the reflect padding follow torchvision's
``gaussian_blur``; the 2-D kernel is applied as two 1-D passes (the same up to float rounding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def blur_kernel_size(image_size: int) -> int:
    """The odd kernel size nearest below 10% of the side, at least 3 (32 -> 3, 96 -> 9, 224 -> 23).

    Computed as ``2 * floor(image_size / 20) + 1``, i.e. ``int(0.1 * size)`` made odd, the
    convention of PyTorch SimCLR re-implementations.
    """
    return max(3, 2 * (image_size // 20) + 1)


def gaussian_kernels(sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """(B,) sigmas -> (B, kernel_size) normalised 1-D Gaussian kernels, centred on the middle."""
    half = (kernel_size - 1) / 2
    taps = torch.linspace(-half, half, kernel_size, dtype=sigma.dtype, device=sigma.device)
    weights = torch.exp(-0.5 * (taps[None, :] / sigma[:, None]) ** 2)
    return weights / weights.sum(dim=1, keepdim=True)


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Blur each image with its own sigma; a new tensor of the same shape.

    Args:
        images: (B, C, H, W) float, any device.
        sigma: (B,) standard deviations in pixels (any device; moved to the images').
        kernel_size: odd number of taps, smaller than H and W.
    """
    n, channels, height, width = images.shape
    kernel = gaussian_kernels(sigma.to(images.device, images.dtype), kernel_size)
    kernel = kernel.repeat_interleave(channels, dim=0)  # one kernel per (image, channel) plane
    pad = kernel_size // 2
    planes = images.reshape(1, n * channels, height, width)
    planes = F.pad(planes, (pad, pad, pad, pad), mode="reflect")
    groups = n * channels
    planes = F.conv2d(planes, kernel.view(groups, 1, kernel_size, 1), groups=groups)
    planes = F.conv2d(planes, kernel.view(groups, 1, 1, kernel_size), groups=groups)
    return planes.view(n, channels, height, width)


def blur_(images: torch.Tensor, mask: torch.Tensor, sigma: torch.Tensor, kernel_size: int) -> None:
    """Blur, in place, the images selected by ``mask`` (B,) CPU bool, with their ``sigma`` (B,).

    The blurred images are clamped to [0, 1].
    """
    rows = mask.nonzero().squeeze(1)
    if len(rows):
        index = rows.to(images.device)
        blurred = gaussian_blur(images.index_select(0, index), sigma[rows], kernel_size)
        blurred.clamp_(0.0, 1.0)  # the kernel's weights sum to 1 only up to rounding
        images.index_copy_(0, index, blurred)
