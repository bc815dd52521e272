"""Random resized crop, horizontal flip and quarter turns, batched: sampling the boxes and
one resampling pass (the turns by `torch.rot90`).

Sampling follows torchvision's ``RandomResizedCrop.get_params`` rule (as used by SimCLR, Chen et
al., ICML 2020): up to 10 tries of an area fraction ~ U(scale) and a log-uniform aspect ratio, the
first box that fits wins; if none fits, a centred box with the ratio clamped into range.

Resampling is bilinear without antialiasing and matches
``torchvision.transforms.v2.functional.resized_crop(..., antialias=False)``: for an integer box it
samples exactly the same source positions, including the clamping of positions to the box's edge
pixels when upsampling. It is done for the whole batch by one ``grid_sample`` call, with the flip
folded into the sampling grid.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

CROP_ATTEMPTS = 10  # torchvision's number of tries before falling back to a centre crop


def sample_crop_boxes(
    batch_size: int,
    generator: torch.Generator,
    source_size: tuple[int, int],
    scale: tuple[float, float],
    ratio: tuple[float, float],
) -> torch.Tensor:
    """Integer crop boxes drawn by torchvision's RandomResizedCrop rule, as fractions.

    Args:
        batch_size: number of boxes B.
        generator: CPU generator all randomness is drawn from (always the same number of draws).
        source_size: (height, width) of the images the boxes are drawn for, in pixels.
        scale: range of the box's area as a fraction of the image's area.
        ratio: range of the box's aspect ratio width / height (sampled log-uniformly).

    Returns:
        (B, 4) float32: top, left, height, width divided by the source height or width. The boxes
        are whole pixels of ``source_size``.
    """
    n, (height, width) = batch_size, source_size
    f64 = torch.float64
    u_scale = torch.rand(n, CROP_ATTEMPTS, generator=generator, dtype=f64)
    u_ratio = torch.rand(n, CROP_ATTEMPTS, generator=generator, dtype=f64)
    u_offset = torch.rand(n, 2, generator=generator, dtype=f64)

    area = height * width * (scale[0] + (scale[1] - scale[0]) * u_scale)
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * u_ratio)
    w = torch.sqrt(area * aspect).round()
    h = torch.sqrt(area / aspect).round()
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)  # first attempt that fits
    w = w.gather(1, first).squeeze(1)
    h = h.gather(1, first).squeeze(1)
    top = torch.floor(u_offset[:, 0] * (height - h + 1)).clamp_(max=height - h)
    left = torch.floor(u_offset[:, 1] * (width - w + 1)).clamp_(max=width - w)

    found = fits.any(dim=1)
    if not bool(found.all()):
        fh, fw = _fallback_box(height, width, ratio)
        lost = ~found
        h[lost], w[lost] = float(fh), float(fw)
        top[lost], left[lost] = float((height - fh) // 2), float((width - fw) // 2)
    return torch.stack([top / height, left / width, h / height, w / width], dim=1).float()


def _fallback_box(height: int, width: int, ratio: tuple[float, float]) -> tuple[int, int]:
    """torchvision's fallback: the whole image, cut down to the nearest allowed aspect ratio."""
    in_ratio = width / height
    if in_ratio < min(ratio):
        return round(width / min(ratio)), width
    if in_ratio > max(ratio):
        return height, round(height * max(ratio))
    return height, width


def _sample_positions(
    start: torch.Tensor, extent: torch.Tensor, size: int, out_size: int
) -> torch.Tensor:
    """Normalised (align_corners=False) source coordinates of ``out_size`` samples along one axis.

    ``start`` and ``extent`` (B,) are the box in pixels of an axis of length ``size``. Like
    ``interpolate(mode='bilinear', align_corners=False)`` on the cropped image, the position of
    output pixel i is (i + 0.5) * extent / out_size - 0.5 inside the box, clamped to the box's first
    and last pixel centres.
    """
    i = torch.arange(out_size, dtype=torch.float64) + 0.5
    inside = i[None, :] * (extent / out_size)[:, None] - 0.5
    last = (extent - 1).clamp(min=0)[:, None]
    pixel = start[:, None] + torch.minimum(inside.clamp(min=0), last)
    return (2 * pixel + 1) / size - 1


def crop_grid_axes(
    crop: torch.Tensor, flip: torch.Tensor, source_size: tuple[int, int], out_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The separable sampling grid of a batch of crops: x (B, out_size) and y (B, out_size).

    Values are ``grid_sample`` coordinates in [-1, 1]; a flipped row has its x positions reversed.
    """
    height, width = source_size
    box = crop.to(torch.float64) * torch.tensor([height, width, height, width], dtype=torch.float64)
    ys = _sample_positions(box[:, 0], box[:, 2], height, out_size)
    xs = _sample_positions(box[:, 1], box[:, 3], width, out_size)
    xs = torch.where(flip[:, None], xs.flip(1), xs)
    return xs.float(), ys.float()


def resized_crop(
    images: torch.Tensor, crop: torch.Tensor, flip: torch.Tensor, out_size: int
) -> torch.Tensor:
    """Crop each image to its box, resize to (out_size, out_size) bilinearly, flip where asked.

    Args:
        images: (B, C, H, W) floating point, any device.
        crop: (B, 4) CPU boxes as fractions (see `sample_crop_boxes`).
        flip: (B,) CPU bool.
        out_size: side of the square output.

    Returns:
        (B, C, out_size, out_size), a new tensor of the images' dtype and device.
    """
    height, width = images.shape[-2:]
    xs, ys = crop_grid_axes(crop, flip, (height, width), out_size)
    xs = xs.to(images.device, images.dtype)
    ys = ys.to(images.device, images.dtype)
    grid = torch.stack(
        torch.broadcast_tensors(xs[:, None, :], ys[:, :, None]), dim=-1
    )  # (B, out, out, 2): x varies along the last image axis, y along the rows
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def rotate_quarters(images: torch.Tensor, quarters: torch.Tensor) -> torch.Tensor:
    """Turn each square image of (B, C, S, S) by ``quarters[b]`` (0..3) quarter turns, as
    ``torch.rot90(image, k, dims=(-2, -1))``; rows with 0 are returned untouched."""
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"rotation needs square images, got {tuple(images.shape[-2:])}")
    quarters = quarters.to(images.device)
    if not bool((quarters != 0).any()):
        return images
    out = images.clone()
    for k in (1, 2, 3):
        rows = (quarters == k).nonzero().flatten()
        if len(rows):
            out[rows] = torch.rot90(images[rows], k, dims=(-2, -1))
    return out


def random_crop_flip(
    images: torch.Tensor,
    generator: torch.Generator,
    *,
    scale: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> torch.Tensor:
    """The light augmentation of supervised training and linear probes: a random resized crop
    (torchvision's rule, see `sample_crop_boxes`) back to the input size and a horizontal flip
    with probability 1/2, for a batch of floating (B, C, H, W) images, drawn from ``generator``."""
    n, (height, width) = images.shape[0], images.shape[-2:]
    crop = sample_crop_boxes(n, generator, (height, width), scale, ratio)
    flip = torch.rand(n, generator=generator) < 0.5
    return resized_crop(images, crop, flip, height)
