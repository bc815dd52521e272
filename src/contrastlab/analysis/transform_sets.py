"""Transformation sets for the invariance score, and embedding similarity against strength.

Builders turn a batch of uint8 images into sets of transformed copies (one set per source image,
its copies next to each other, set id = the source index) for
:func:`contrastlab.analysis.invariance.invariance_score`: occlusion, rotation (viewpoint),
illumination/colour, and instance sets given by the data's own group ids (Purushwalkam & Gupta,
NeurIPS 2020). :func:`similarity_vs_strength` measures the mean cosine between an
image's features and those of a transformed copy, per transformation strength.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from contrastlab.analysis.invariance import check_ids
from contrastlab.augment.geometry import rotate_quarters
from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_images
from contrastlab.evaluate.features import extract_features

__all__ = [
    "illumination_sets",
    "instance_sets",
    "occlude",
    "occlusion_sets",
    "rotate",
    "rotation_sets",
    "similarity_vs_strength",
]


def _stack_sets(copies: list[Tensor]) -> tuple[Tensor, Tensor]:
    n = copies[0].shape[0]
    images = torch.stack(copies, dim=1).flatten(0, 1)
    return images, torch.arange(n).repeat_interleave(len(copies))


def _check_batch(images: Tensor, what: str) -> None:
    check_images(images, what=what)
    if images.shape[0] == 0:
        raise ContrastlabError(f"{what} needs at least one image, got none")


def _place_squares(images: Tensor, size: int, generator: torch.Generator, fill: int) -> Tensor:
    n, _, h, w = images.shape
    top = torch.randint(0, h - size + 1, (n, 1), generator=generator)
    left = torch.randint(0, w - size + 1, (n, 1), generator=generator)
    rows = (torch.arange(h) >= top) & (torch.arange(h) < top + size)
    cols = (torch.arange(w) >= left) & (torch.arange(w) < left + size)
    mask = (rows[:, :, None] & cols[:, None, :])[:, None].to(images.device)
    return images.masked_fill(mask, fill)


def _occluder_side(images: Tensor, fraction: float, fill: int, what: str) -> int:
    _check_batch(images, what)
    if not 0 <= fraction <= 1:
        raise ContrastlabError(f"fraction must be in [0, 1], got {fraction}")
    if not 0 <= fill <= 255:
        raise ContrastlabError(f"fill must be a uint8 value in [0, 255], got {fill}")
    return round(fraction * min(images.shape[-2:]))


def occlude(images: Tensor, fraction: float, *, seed: int = 0, fill: int = 0) -> Tensor:
    """Paint one square of side round(``fraction`` x min(H, W)) with ``fill`` at a uniformly random
    position inside each image (seeded); ``fraction`` 0 returns the images unchanged."""
    size = _occluder_side(images, fraction, fill, "occlude's input")
    if size == 0:
        return images.clone()
    return _place_squares(images, size, torch.Generator().manual_seed(seed), fill)


def occlusion_sets(
    images: Tensor,
    *,
    positions: int = 8,
    fraction: float = 0.3,
    fill: int = 0,
    include_original: bool = True,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """One set per image: ``positions`` copies, each with one square occluder (side
    round(``fraction`` x min(H, W)), value ``fill``) at an independent uniform position, preceded
    by the untouched image when ``include_original``. Positions come from ``seed``."""
    size = _occluder_side(images, fraction, fill, "occlusion_sets' input")
    if size < 1:
        raise ContrastlabError(f"fraction must cover at least one pixel, got {fraction}")
    if positions < 1:
        raise ContrastlabError(f"positions must be at least 1, got {positions}")
    generator = torch.Generator().manual_seed(seed)
    copies = [_place_squares(images, size, generator, fill) for _ in range(positions)]
    return _stack_sets([images, *copies] if include_original else copies)


def rotate(images: Tensor, degrees: float | Tensor) -> Tensor:
    """Rotate each image counter-clockwise (as displayed) by ``degrees`` (one angle, or one per
    image) about its centre. Square images turned by a multiple of 90 degrees use exact quarter
    turns (``torch.rot90``); other angles resample bilinearly with ``affine_grid``/``grid_sample``
    (aspect-correct, corners that leave the image filled with 0) and round back to uint8."""
    _check_batch(images, "rotate's input")
    n, _, h, w = images.shape
    angles = torch.as_tensor(degrees, dtype=torch.float64).flatten().cpu()
    if angles.numel() not in (1, n) or not bool(torch.isfinite(angles).all()):
        raise ContrastlabError(f"degrees must be one finite angle or {n} (one per image)")
    angles = angles.expand(n)
    turns = angles / 90
    quarter = (turns == turns.round()) & (h == w)
    out = rotate_quarters(images, turns.round().remainder(4).long() * quarter) if h == w else images
    out = images.clone() if out is images else out
    rest = (~quarter & (angles.remainder(360) != 0)).nonzero().flatten()
    if len(rest):
        rad = torch.deg2rad(angles[rest])
        cos, sin = rad.cos(), rad.sin()
        theta = torch.zeros(len(rest), 2, 3, dtype=torch.float64)
        theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * h / w
        theta[:, 1, 0], theta[:, 1, 1] = sin * w / h, cos
        source = images[rest].float()
        grid = F.affine_grid(
            theta.float().to(images.device), list(source.shape), align_corners=False
        )
        turned = F.grid_sample(
            source, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        out[rest] = turned.round().clamp(0, 255).to(torch.uint8)
    return out


def rotation_sets(
    images: Tensor,
    angles: Sequence[float] = (0, 90, 180, 270),
    *,
    jitter: float = 0.0,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """One set per image: a copy rotated by each of ``angles`` (degrees, counter-clockwise; see
    :func:`rotate`), each angle plus an independent uniform offset in [-``jitter``, ``jitter``]
    drawn from ``seed`` (0: exact angles, so quarter turns of square images are lossless)."""
    _check_batch(images, "rotation_sets' input")
    if len(angles) < 1:
        raise ContrastlabError("rotation_sets needs at least one angle, got none")
    if not 0 <= jitter < 180:
        raise ContrastlabError(f"jitter must be in [0, 180) degrees, got {jitter}")
    generator = torch.Generator().manual_seed(seed)
    copies = []
    for angle in angles:
        offset = torch.rand(images.shape[0], generator=generator, dtype=torch.float64) * 2 - 1
        copies.append(rotate(images, float(angle) + offset * jitter))
    return _stack_sets(copies)


def illumination_sets(
    images: Tensor,
    *,
    copies: int = 8,
    brightness: float = 0.4,
    contrast: float = 0.4,
    colour: float = 0.2,
    include_original: bool = True,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """One set per image: ``copies`` relit copies (after the original when ``include_original``).

    Each copy draws, uniformly and independently (``seed``), a gain per channel
    g_k in [1 - ``colour``, 1 + ``colour``] (the light's colour), a brightness factor
    b in [1 - ``brightness``, 1 + ``brightness``] and a contrast factor k in
    [1 - ``contrast``, 1 + ``contrast``], and gives x' = clamp(k (b g_k x - m) + m, 0, 255) rounded,
    with m the mean over pixels and channels of b g_k x (contrast about the image's mean level).
    """
    _check_batch(images, "illumination_sets' input")
    if copies < 1:
        raise ContrastlabError(f"copies must be at least 1, got {copies}")
    for name, value in (("brightness", brightness), ("contrast", contrast), ("colour", colour)):
        if not 0 <= value < 1:
            raise ContrastlabError(f"{name} must be in [0, 1), got {value}")
    generator = torch.Generator().manual_seed(seed)
    n, c = images.shape[:2]
    out = []
    for _ in range(copies):
        gain = 1 + colour * (torch.rand(n, c, 1, 1, generator=generator) * 2 - 1)
        level = 1 + brightness * (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1)
        spread = 1 + contrast * (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1)
        lit = images.float() * (gain * level).to(images.device)
        mean = lit.mean(dim=(1, 2, 3), keepdim=True)
        lit = (lit - mean) * spread.to(images.device) + mean
        out.append(lit.round().clamp(0, 255).to(torch.uint8))
    return _stack_sets([images, *out] if include_original else out)


def instance_sets(
    images: Tensor, groups: Tensor | np.ndarray, *, min_size: int = 3
) -> tuple[Tensor, Tensor]:
    """Sets given by the data: the images sharing a group id (e.g. an ``.npz``'s ``groups`` array:
    instances of a category at a similar viewpoint). Groups of fewer than ``min_size`` images are
    dropped; the rest keep their order and their ids as ``set_ids``."""
    _check_batch(images, "instance_sets' input")
    ids = check_ids(groups, images.shape[0], "groups")
    if min_size < 1:
        raise ContrastlabError(f"min_size must be at least 1, got {min_size}")
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    keep = np.flatnonzero(counts[inverse] >= min_size)
    if len(keep) == 0:
        raise ContrastlabError(f"no group has at least {min_size} images (largest: {counts.max()})")
    index = torch.from_numpy(keep)
    return images[index.to(images.device)], torch.from_numpy(ids[keep])


def similarity_vs_strength(
    encoder: nn.Module,
    images: Tensor,
    transform: Callable[[Tensor, float], Tensor],
    strengths: Sequence[float],
    *,
    batch_size: int = 512,
    device: torch.device | str = "cpu",
) -> list[float]:
    """Mean cosine similarity between each image's features and those of its transformed copy,
    one value per strength: s(a) = mean_i cos(f(x_i), f(T(x_i, a))), f = ``encoder`` through
    :func:`~contrastlab.evaluate.features.extract_features`, T = ``transform(images, a)``, which
    must return uint8 images of the same shape (e.g. ``rotate``, or ``occlude`` with a fraction).
    A strength at which T is the identity gives 1.0."""
    _check_batch(images, "similarity_vs_strength's input")
    if len(strengths) == 0:
        raise ContrastlabError("similarity_vs_strength needs at least one strength, got none")
    base = extract_features(encoder, images, batch_size=batch_size, device=device)
    out = []
    for strength in strengths:
        moved = transform(images, strength)
        if (
            not isinstance(moved, Tensor)
            or moved.dtype != torch.uint8
            or moved.shape != images.shape
        ):
            got = tuple(moved.shape) if isinstance(moved, Tensor) else type(moved).__name__
            raise ContrastlabError(
                f"transform must return uint8 images of shape {tuple(images.shape)}, got {got}"
            )
        feats = extract_features(encoder, moved, batch_size=batch_size, device=device)
        out.append(float(F.cosine_similarity(base.double(), feats.double(), dim=1).mean()))
    return out
