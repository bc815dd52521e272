"""The raw-pixel baseline: the evaluation protocols on the images themselves, no network.

A learned representation is only worth its training if it beats the input it was given: kNN,
a linear classifier, retrieval and k-means on the raw pixels are the floor. The suite runs this
floor beside the trained encoder and its random-init twin, under the ``pixels_`` key prefix.

`PixelFeatures` is an ``nn.Module`` rather than a function so that everything downstream is the
very code path the encoders take: `extract_features` feeds it batches of ``uint8 / 255`` on the
evaluation device, and `run_protocols` treats it as one more encoder (same bank, same queries,
same kNN, probe, retrieval and clustering code). Its output is what the encoder's backbone
receives: the images at the evaluation resolution, normalised per channel with the recipe's mean
and std (`DataConfig.encoder_inputs`, so RandBit's bit planes stay 0/1), flattened in (C, H, W)
order to C*H*W features.

Two bounds keep the pixel row affordable, both recorded in ``metrics["protocols"]``:

* The L-BFGS linear probe is fitted on a stratified subset of at most
  ``PIXEL_LINEAR_MAX_VALUES // (C*H*W)`` training images (3,255 at 32x32x3, 13,020 at 16x16x3;
  every class kept; `pixel_linear_max_train`) and scored on the whole held-out split. Measured
  on CIFAR-10 pixels (2 shared CPU cores, BLAS on one thread, as the probe runs): unbounded, the
  probe on 20,000 x 3,072 features had not finished after 11 minutes; on 5,000 images it took
  104 s (test top-1 0.343), on the bound's 3,255 52 s (0.333). On raw pixels the large-C fits
  run to ``max_iter`` (1,000 iterations for C = 10, 240 for C = 0.01); random Gaussian data of
  the same 20,000 x 3,072 shape converged in 19 s and would have hidden this. The work grows
  with images x values per image, hence a bound on their product. Fewer training images lower
  the pixel probe's accuracy (in expectation), so the bound can hide a loss to pixels but not
  invent one. kNN, retrieval and clustering use every image.
* Nothing is run when the pixel features of both splits would exceed ``PIXEL_MAX_VALUES``
  float32 values (4 GiB; e.g. ImageNet at 224x224), see `pixels_too_large`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from contrastlab.core.errors import ContrastlabError

__all__ = [
    "PIXEL_LINEAR_MAX_VALUES",
    "PIXEL_MAX_VALUES",
    "PixelFeatures",
    "pixel_linear_max_train",
    "pixels_too_large",
]

PIXEL_LINEAR_MAX_VALUES = 10_000_000  # training images x values each, for the L-BFGS probe
PIXEL_MAX_VALUES = 2**30  # pixel features of both splits held at once: 4 GiB of float32


def pixel_linear_max_train(values_per_image: int) -> int:
    """The most training images the pixel L-BFGS probe is fitted on (see the module docstring):
    ``PIXEL_LINEAR_MAX_VALUES // values_per_image``, at least 1."""
    return max(1, PIXEL_LINEAR_MAX_VALUES // values_per_image)


def pixels_too_large(n_images: int, values_per_image: int) -> str | None:
    """Why the pixel row cannot run on ``n_images`` (both splits) of ``values_per_image`` each,
    or None when their float32 features fit in ``PIXEL_MAX_VALUES``."""
    if n_images * values_per_image <= PIXEL_MAX_VALUES:
        return None
    return (
        f"not run: {n_images} images x {values_per_image} values exceed the "
        f"{PIXEL_MAX_VALUES} float32 values (4 GiB) the pixel row may hold"
    )


class PixelFeatures(nn.Module):
    """Float images in [0, 1], (B, C, H, W) -> ``((x - mean) / std).flatten(1)``, (B, C*H*W).

    ``mean`` and ``std`` hold one value per channel (buffers, so ``.to(device)`` moves them); the
    flatten order is channel, then row, then column (``torch.flatten`` of the logical layout, so a
    channels-last batch gives the same vector).
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        if len(mean) != len(std) or not mean or min(std) <= 0:
            raise ContrastlabError(
                f"pixel features need one mean and one positive std per channel, "
                f"got mean {list(mean)}, std {list(std)}"
            )
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, images: Tensor) -> Tensor:
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        if images.ndim != 4 or images.shape[1] != mean.shape[1]:
            raise ContrastlabError(
                f"pixel features expect (B, {mean.shape[1]}, H, W) images, "
                f"got {tuple(images.shape)}"
            )
        return ((images - mean) / std).flatten(1)
