"""SimCLR's view maker (Chen et al., "A Simple Framework for Contrastive Learning of Visual
Representations", ICML 2020, appendix A), batched and with explicit parameters.

Per image, in this order: random resized crop (bilinear) to ``image_size``, horizontal flip,
optional 4-way rotation (not SimCLR's: for MoCo-with-rotation and LOOC), colour jitter applied
with some probability (its four ops in a random order per image), random greyscale, optional
Gaussian blur. The output is float32 in [0, 1] on the input's device, not
normalised (the encoder normalises).

Randomness comes only from the ``torch.Generator`` passed in (the trainer owns it), never from the
global RNG. `SimCLRViews.sample` draws a `ViewParams` on the CPU and `SimCLRViews.apply` applies it
on the images' device, so any batch of views can be replayed exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from contrastlab.augment.blur import blur_, blur_kernel_size
from contrastlab.augment.color import grayscale_, jitter_
from contrastlab.augment.geometry import resized_crop, rotate_quarters, sample_crop_boxes
from contrastlab.augment.params import ViewParams
from contrastlab.core.distributed import local_rows
from contrastlab.core.errors import ConfigError

__all__ = ["SimCLRAugment", "SimCLRViews", "ViewParams"]


@dataclass
class SimCLRAugment:
    """The recipe's ``augment:`` section: SimCLR's augmentation and its strengths.

    Attributes:
        crop_scale: range of the crop's area as a fraction of the source image's area.
        crop_ratio: range of the crop's aspect ratio (width / height), sampled log-uniformly.
        flip_p: probability of a horizontal flip.
        jitter_strength: SimCLR's colour distortion strength s: brightness, contrast and
            saturation factors are drawn from [max(0, 1 - 0.8 s), 1 + 0.8 s] and the hue shift
            from [-0.2 s, 0.2 s] turns. SimCLR uses 0.5 on CIFAR-10 and 1.0 on ImageNet.
        jitter_p: probability that colour jitter is applied to an image.
        gray_p: probability of converting an image to greyscale (after jitter).
        blur_p: probability of a Gaussian blur (0 on CIFAR-10, 0.5 on ImageNet in SimCLR).
        blur_sigma: range of the blur's standard deviation, in output pixels.
        rotation_p: probability of turning a view by 90, 180 or 270 degrees (equally likely);
            0.75 makes the four orientations equally likely (LOOC's rotation augmentation).
    """

    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_strength: float = 0.5
    jitter_p: float = 0.8
    gray_p: float = 0.2
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    rotation_p: float = 0.0

    def validate(self) -> None:
        """Raise `ConfigError` naming the first field that is out of range."""
        _check_range(self.crop_scale, "crop_scale", 0.0, 1.0, "0 < low <= high <= 1")
        _check_range(self.crop_ratio, "crop_ratio", 0.0, math.inf, "0 < low <= high")
        for name in ("flip_p", "jitter_p", "gray_p", "blur_p", "rotation_p"):
            value = getattr(self, name)
            _check(_is_number(value) and 0.0 <= value <= 1.0, name, "in [0, 1]", value)
        s = self.jitter_strength
        _check(_is_number(s) and 0.0 <= s <= 2.5, "jitter_strength", "in [0, 2.5]", s)
        _check_range(self.blur_sigma, "blur_sigma", 0.0, math.inf, "0 < low <= high")

    def jitter_ranges(self) -> tuple[tuple[float, float], ...]:
        """(low, high) of the brightness, contrast, saturation factors and of the hue shift."""
        strength = 0.8 * self.jitter_strength
        blend = (max(0.0, 1.0 - strength), 1.0 + strength)
        hue = 0.2 * self.jitter_strength
        return blend, blend, blend, (-hue, hue)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check(ok: bool, name: str, rule: str, value: object) -> None:
    if not ok:
        raise ConfigError(f"augment.{name} must be {rule}, got {value!r}")


def _check_range(value: object, name: str, low: float, high: float, rule: str) -> None:
    ok = (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(_is_number(v) for v in value)
        and low < value[0] <= value[1] <= high
    )
    _check(ok, name, f"two numbers with {rule}", value)


class SimCLRViews:
    """Makes SimCLR views of uint8 or float image batches, with explicit, replayable parameters.

    Args:
        config: the augmentation settings (validated here).
        image_size: side of the square output views, in pixels.

    Images must have 1 or 3 channels (our data layer converts to RGB by default). With one
    channel, saturation, hue and greyscale leave the image unchanged, as in torchvision.
    """

    def __init__(self, config: SimCLRAugment, image_size: int) -> None:
        config.validate()
        if image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        self.config = config
        self.image_size = image_size
        self.blur_kernel_size = blur_kernel_size(image_size)

    def __repr__(self) -> str:
        return f"SimCLRViews({self.config!r}, image_size={self.image_size})"

    def resize(self, image_size: int) -> None:
        """Make views of side ``image_size`` from now on (progressive resolution,
        ``train.view_sizes``); the blur kernel follows the new size."""
        if image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        self.image_size = image_size
        self.blur_kernel_size = blur_kernel_size(image_size)

    def sample(
        self, batch_size: int, generator: torch.Generator, source_size: tuple[int, int]
    ) -> ViewParams:
        """Draw the parameters of ``batch_size`` views of images of ``source_size`` = (H, W).

        All draws come from ``generator`` (a CPU generator), always in the same number whatever
        the settings, so the generator's state after a step depends only on the batch size;
        rotations are drawn last and only when ``rotation_p`` > 0, so recipes without rotation
        see the same stream as before rotation existed.
        """
        cfg, n = self.config, batch_size
        source = (int(source_size[0]), int(source_size[1]))
        if n < 0 or min(source) < 1:
            raise ValueError(f"need batch_size >= 0 and a positive source_size, got {n}, {source}")
        crop = sample_crop_boxes(n, generator, source, cfg.crop_scale, cfg.crop_ratio)
        flip = torch.rand(n, generator=generator) < cfg.flip_p
        jitter = torch.rand(n, generator=generator) < cfg.jitter_p
        ranges = torch.tensor(cfg.jitter_ranges(), dtype=torch.float64)  # (4, 2): low, high
        low, high = ranges[:, 0], ranges[:, 1]
        u = torch.rand(n, 4, generator=generator, dtype=torch.float64)
        factors = (low + (high - low) * u).float()
        order = torch.rand(n, 4, generator=generator).argsort(dim=1)
        gray = torch.rand(n, generator=generator) < cfg.gray_p
        blur = torch.rand(n, generator=generator) < cfg.blur_p
        s_low, s_high = cfg.blur_sigma
        sigma = s_low + (s_high - s_low) * torch.rand(n, generator=generator)
        rotation = torch.zeros(n, dtype=torch.int64)
        if cfg.rotation_p > 0:
            turn = torch.rand(n, generator=generator) < cfg.rotation_p
            quarter = torch.randint(1, 4, (n,), generator=generator)
            rotation = torch.where(turn, quarter, rotation)
        return ViewParams(crop, flip, jitter, factors, order, gray, blur, sigma, rotation)

    def apply(self, images: torch.Tensor, params: ViewParams) -> torch.Tensor:
        """Apply ``params`` to ``images``: (B, C, H, W) uint8 or float in [0, 1], C = 1 or 3.

        Returns a new float32 tensor (B, C, image_size, image_size) in [0, 1] on the images'
        device. Applying the same params again gives bit-identical output.
        """
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            shape = tuple(images.shape)
            raise ValueError(f"images must be (B, C, H, W) with C = 1 or 3, got {shape}")
        if len(params) != images.shape[0]:
            raise ValueError(f"{len(params)} view params for a batch of {images.shape[0]} images")
        # views are made in float32 also inside a training step's autocast (fp16/bf16), where
        # the blur's convolutions would otherwise come out in half precision
        with torch.autocast(images.device.type, enabled=False):
            return self._render(images, params)

    def _render(self, images: torch.Tensor, params: ViewParams) -> torch.Tensor:
        n, channels = images.shape[:2]
        size = self.image_size
        if n == 0:
            return torch.empty(0, channels, size, size, device=images.device)
        if images.dtype == torch.uint8:
            views = resized_crop(images.float(), params.crop, params.flip, size).div_(255.0)
        elif images.is_floating_point():
            views = resized_crop(images.float(), params.crop, params.flip, size)
        else:
            raise TypeError(f"images must be uint8 or floating point, got {images.dtype}")
        views.clamp_(0.0, 1.0)
        views = rotate_quarters(views, params.rotation)
        jitter_(views, params.jitter, params.factors, params.order)
        grayscale_(views, params.gray)
        blur_(views, params.blur, params.sigma, self.blur_kernel_size)
        return views

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Sample params for ``images`` from ``generator`` and apply them.

        In a training step sharded over ranks (`contrastlab.core.distributed.sharded_step`), the
        params of the whole global batch are drawn, identically on every rank, and this rank's
        rows kept: the views of an image do not depend on how many processes share the batch.
        """
        total, mine = local_rows(images.shape[0])
        params = self.sample(total, generator, (images.shape[-2], images.shape[-1]))
        if total != images.shape[0]:
            params = params.select(torch.arange(total)[mine])
        return self.apply(images, params)
