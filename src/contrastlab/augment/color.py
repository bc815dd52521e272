"""Batched colour jitter and greyscale with torchvision's semantics, per-image factors and order.

SimCLR (Chen et al., ICML 2020) distorts colour with torchvision's ``ColorJitter`` followed by
``RandomGrayscale``. The ops here reproduce ``torchvision.transforms.v2.functional`` on float
images in [0, 1], to within float rounding:

* brightness ``f``: ``clamp(f * x)`` (multiplicative);
* contrast ``f``: ``clamp(f * x + (1 - f) * mean(grey(x)))``, the mean over the whole image;
* saturation ``f``: ``clamp(f * x + (1 - f) * grey(x))``;
* hue ``f``: rotate the hue in HSV by ``f`` turns;
* grey: ITU-R 601 luma ``0.2989 R + 0.587 G + 0.114 B`` replicated to three channels.

Every image has its own factors and its own order of the four ops. At each of the four stages the
three blending ops (brightness, contrast, saturation) are one fused pass over the batch, with
per-image coefficients that are neutral for images whose op at that stage is hue (or that are not
jittered); hue runs only on the images whose op at that stage is hue. So the work is about four ops
per image, not sixteen. Single-channel images get brightness and contrast only, as in torchvision
(saturation, hue and greyscale leave them unchanged).

Images are (B, C, H, W) float tensors on any device; functions whose name ends in ``_`` modify
them in place. Per-image parameters are CPU tensors, moved to the images' device here.
"""

from __future__ import annotations

import torch

from contrastlab.augment.params import CONTRAST, HUE, SATURATION

LUMA = (0.2989, 0.587, 0.114)  # ITU-R 601-2 weights, as torchvision's rgb_to_grayscale


def grayscale(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma, summed in torchvision's order (same rounding)."""
    r, g, b = images.unbind(dim=1)
    return r.mul(LUMA[0]).add_(g, alpha=LUMA[1]).add_(b, alpha=LUMA[2]).unsqueeze(1)


def _rows(mask: torch.Tensor) -> torch.Tensor:
    return mask.nonzero().squeeze(1)


def blend_(images: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> None:
    """``images = clamp(a * x + b * grey(x) + c * mean(grey(x)), 0, 1)`` with per-image a, b, c.

    a, b, c are (B,) CPU float64 tensors. Brightness is (f, 0, 0), contrast (f, 0, 1 - f),
    saturation (f, 1 - f, 0) and the identity (1, 0, 0).
    """
    n = images.shape[0]
    device, dtype = images.device, images.dtype
    scale = a.to(device, dtype).view(n, 1, 1, 1)
    if not bool(((b != 0) | (c != 0)).any()):  # brightness (or identity) only: no grey needed
        images.mul_(scale).clamp_(0.0, 1.0)
        return
    # one channel: its own grey image (the caller makes saturation neutral)
    grey = grayscale(images) if images.shape[1] == 3 else images.clone()
    if bool((c != 0).any()):
        offset = (c.to(device, dtype) * grey.mean(dim=(1, 2, 3))).view(n, 1, 1, 1)
    else:
        offset = torch.zeros(n, 1, 1, 1, device=device, dtype=dtype)
    grey.mul_(b.to(device, dtype).view(n, 1, 1, 1)).add_(offset)
    torch.addcmul(grey, images, scale, out=images)
    images.clamp_(0.0, 1.0)


def adjust_hue_(images: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the hue of RGB images in [0, 1] by ``shift`` (B,) turns, in place; returns images.

    Equivalent to torchvision's RGB -> HSV, ``h = (h + shift) mod 1``, HSV -> RGB, written with the
    closed form of HSV -> RGB: channel k (5 for R, 3 for G, 1 for B) is
    ``v - (v - min) * clamp(2 - |n - 2|, 0, 1)`` with ``n = (k + 6 h) mod 6``. Branches are float
    masks (comparisons written into float tensors), which vectorise on the CPU where boolean masks
    and ``torch.where`` do not; temporaries are few and reused, as fresh memory is slow to touch.
    """
    n = images.shape[0]
    r, g, b = images.unbind(dim=1)
    vmax = torch.maximum(r, g)
    torch.maximum(vmax, b, out=vmax)
    delta = torch.minimum(r, g)
    torch.sub(vmax, torch.minimum(delta, b, out=delta), out=delta)
    # Grey pixels (delta = 0) have zero numerators, so any positive divisor gives hue 0. A tiny
    # delta changes the output by at most delta, whatever hue it gets.
    inv = delta.clamp_min(1e-30).reciprocal_()
    # Hue in sixths of a turn, from the largest channel: 4 + (r - g) / delta if it is B, 2 + (b - r)
    # / delta if G, (g - b) / delta if R. Where two channels tie for the largest, their formulas
    # agree, so the choice among them does not matter. lerp with a 0/1 weight picks exactly.
    hue6 = torch.sub(r, g).mul_(inv).add_(4.0)
    other = torch.sub(b, r).mul_(inv).add_(2.0)
    is_max = torch.eq(vmax, g, out=inv.new_empty(inv.shape))
    hue6.lerp_(other, is_max)
    hue6.lerp_(torch.sub(g, b, out=other).mul_(inv), torch.eq(vmax, r, out=is_max))
    # Rotated hue in turns, shifted by one turn to stay positive (h6 / 6 >= -1/6, shift >= -1/2).
    turn = hue6.mul_(1.0 / 6.0).add_((shift.to(images.device, images.dtype) + 1.0).view(n, 1, 1))
    # All three channels at once, overwriting the input: |n_k - 2| with n_k = 6 frac(turn + k / 6)
    offsets = torch.tensor([5 / 6, 3 / 6, 1 / 6], device=images.device, dtype=images.dtype)
    sector = torch.add(turn.unsqueeze(1), offsets.view(1, 3, 1, 1), out=images)
    sector.frac_().mul_(6.0).sub_(2.0).abs_()
    weight = sector.neg_().add_(2.0).clamp_(0.0, 1.0)
    torch.addcmul(vmax.unsqueeze(1), delta.unsqueeze(1), weight, value=-1.0, out=images)
    return images.clamp_(0.0, 1.0)  # vmax - delta can round a hair below 0


def jitter_(
    images: torch.Tensor, jitter: torch.Tensor, factors: torch.Tensor, order: torch.Tensor
) -> None:
    """Colour jitter in place: for each image with ``jitter`` set, its four ops in its ``order``.

    Args:
        images: (B, C, H, W) float in [0, 1], C = 1 or 3, any device.
        jitter: (B,) CPU bool.
        factors: (B, 4) CPU float: brightness, contrast, saturation, hue (see `ViewParams`).
        order: (B, 4) CPU int64 permutations of 0..3.
    """
    if not bool(jitter.any()):
        return
    a, b, c, hue = stage_coefficients(jitter, factors, order, rgb=images.shape[1] == 3)
    for stage in range(4):
        a_k, b_k, c_k = a[:, stage], b[:, stage], c[:, stage]
        if bool(((a_k != 1) | (b_k != 0) | (c_k != 0)).any()):
            blend_(images, a_k, b_k, c_k)
        rows = _rows(hue[:, stage])
        if len(rows):
            index = rows.to(images.device)
            shifted = adjust_hue_(images.index_select(0, index), factors[rows, HUE])
            images.index_copy_(0, index, shifted)


def stage_coefficients(
    jitter: torch.Tensor, factors: torch.Tensor, order: torch.Tensor, rgb: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per image and stage, the `blend_` coefficients a, b, c and whether hue runs; all (B, 4).

    a, b, c are float64; the hue mask is bool. An image whose op at a stage is hue, or that is not
    jittered, gets the identity blend (1, 0, 0) there. Hue with shift 0 is skipped (torchvision
    skips it too when the hue range is 0); so are saturation and hue on one-channel images.
    """
    f = factors.to(torch.float64).gather(1, order)  # the factor of the op run at each stage
    active = jitter[:, None].expand_as(order)
    blends = active & (order != HUE)
    if not rgb:
        blends = blends & (order != SATURATION)
    a = torch.where(blends, f, 1.0)
    b = torch.where(blends & (order == SATURATION), 1.0 - f, 0.0)
    c = torch.where(blends & (order == CONTRAST), 1.0 - f, 0.0)
    hue = active & (order == HUE) & (factors[:, HUE] != 0)[:, None] & rgb
    return a, b, c, hue


def grayscale_(images: torch.Tensor, mask: torch.Tensor) -> None:
    """Replace the images selected by ``mask`` (B,) CPU bool by their luma on all 3 channels."""
    if images.shape[1] != 3:
        return
    rows = _rows(mask)
    if len(rows):
        index = rows.to(images.device)
        grey = grayscale(images.index_select(0, index))
        images.index_copy_(0, index, grey.expand(-1, 3, -1, -1))
