"""`ViewParams`: the explicit, replayable parameters of one batch of augmented views.

A view maker first *samples* these from a generator the trainer owns, then *applies* them. Keeping
them explicit lets a method replay the exact same augmentation (LOOC's views that share one
augmentation with the query, CLAE's adversarial views) and makes training resumable bit for bit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch

# Column order of `ViewParams.factors` and the op codes used in `ViewParams.order`.
BRIGHTNESS, CONTRAST, SATURATION, HUE = 0, 1, 2, 3
NEUTRAL_FACTORS = (1.0, 1.0, 1.0, 0.0)  # factors that leave an image unchanged

# (field name, trailing shape, dtype) of every field: the checks in `__post_init__` use this.
_LAYOUT: tuple[tuple[str, tuple[int, ...], torch.dtype], ...] = (
    ("crop", (4,), torch.float32),
    ("flip", (), torch.bool),
    ("jitter", (), torch.bool),
    ("factors", (4,), torch.float32),
    ("order", (4,), torch.int64),
    ("gray", (), torch.bool),
    ("blur", (), torch.bool),
    ("sigma", (), torch.float32),
    ("rotation", (), torch.int64),
)


@dataclass
class ViewParams:
    """Everything needed to replay a batch of views; all tensors on the CPU, first dimension B.

    Attributes:
        crop: (B, 4) float32: top, left, height, width of the crop box as fractions of the source
            image's height and width, so the same box replays on a source of another size.
        flip: (B,) bool: mirror the crop left-right.
        jitter: (B,) bool: whether colour jitter applies to the image at all.
        factors: (B, 4) float32: brightness, contrast and saturation factors (1 = unchanged) and the
            hue shift in turns of the colour wheel (0 = unchanged), torchvision's conventions.
        order: (B, 4) int64: each row a permutation of 0..3 (brightness, contrast, saturation, hue):
            the order in which the jitter ops are applied to that image.
        gray: (B,) bool: convert to greyscale (after jitter).
        blur: (B,) bool: Gaussian blur (last).
        sigma: (B,) float32: the blur's standard deviation in output pixels.
        rotation: (B,) int64 in 0..3: quarter turns of the view, as ``torch.rot90(view, k,
            dims=(-2, -1))`` (after the crop and flip; None means 0 for every row).
    """

    crop: torch.Tensor
    flip: torch.Tensor
    jitter: torch.Tensor
    factors: torch.Tensor
    order: torch.Tensor
    gray: torch.Tensor
    blur: torch.Tensor
    sigma: torch.Tensor
    rotation: torch.Tensor = None  # type: ignore[assignment]  # None: no rotation (zeros)

    def __post_init__(self) -> None:
        n = len(self.crop)
        if self.rotation is None:
            self.rotation = torch.zeros(n, dtype=torch.int64)
        for name, tail, dtype in _LAYOUT:
            value = getattr(self, name)
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"ViewParams.{name} must be a tensor, got {type(value).__name__}")
            if tuple(value.shape) != (n, *tail):
                want, got = (n, *tail), tuple(value.shape)
                raise ValueError(f"ViewParams.{name} must have shape {want}, got {got}")
            if value.dtype != dtype:
                raise TypeError(f"ViewParams.{name} must be {dtype}, got {value.dtype}")

    def __len__(self) -> int:
        return len(self.crop)

    def select(self, index: torch.Tensor) -> ViewParams:
        """The rows picked by ``index`` (int64 indices or a (B,) bool mask), as new params."""
        index = index.cpu()
        return ViewParams(**{name: value[index] for name, value in self.to_dict().items()})

    def to_dict(self) -> dict[str, torch.Tensor]:
        """The fields as a plain dict of tensors (e.g. for ``torch.save``)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def cat(cls, parts: Sequence[ViewParams]) -> ViewParams:
        """Concatenate the rows of several batches of params, in order."""
        if not parts:
            raise ValueError("ViewParams.cat needs at least one ViewParams")
        return cls(
            **{
                f.name: torch.cat([getattr(p, f.name) for p in parts])
                for f in dataclasses.fields(cls)
            }
        )

    @classmethod
    def identity(cls, batch_size: int) -> ViewParams:
        """Params that only resize: the whole image, no flip, no colour change, no blur."""
        n = batch_size
        return cls(
            crop=torch.tensor([0.0, 0.0, 1.0, 1.0]).repeat(n, 1),
            flip=torch.zeros(n, dtype=torch.bool),
            jitter=torch.zeros(n, dtype=torch.bool),
            factors=torch.tensor(NEUTRAL_FACTORS).repeat(n, 1),
            order=torch.arange(4).repeat(n, 1),
            gray=torch.zeros(n, dtype=torch.bool),
            blur=torch.zeros(n, dtype=torch.bool),
            sigma=torch.ones(n),
            rotation=torch.zeros(n, dtype=torch.int64),
        )
