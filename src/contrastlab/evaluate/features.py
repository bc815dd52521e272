"""Frozen features: run an encoder over uint8 images in eval mode, batch by batch.

This is the feature step shared by the kNN monitor of Wu et al. 2018 / the MoCo CIFAR-10 demo
and the linear evaluation protocol of SimCLR (Chen et al. 2020, appendix B.5): the encoder is the
backbone without the projection head, its weights frozen, BatchNorm using running statistics.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_images

__all__ = ["extract_features"]


@torch.no_grad()
def extract_features(
    encoder: nn.Module,
    images: Tensor,
    *,
    batch_size: int = 512,
    device: torch.device | str = "cpu",
    channels_last: bool = False,
    progress: bool = False,
) -> Tensor:
    """Encode ``images`` with ``encoder`` in eval mode and return float32 (N, D) features on CPU.

    ``images`` is a uint8 (N, C, H, W) tensor on CPU, already at the recipe's size. Each batch is
    moved to ``device``, converted to float in [0, 1] (``x / 255``) and passed through
    ``encoder``, which does its own normalisation. The encoder must already live on ``device``;
    it is not moved. ``progress`` shows a tqdm bar over the batches on stderr. With
    ``channels_last`` the batches are laid out channels-last (the caller
    converts the encoder itself, as training does); the values are the same up to float rounding.

    The encoder is switched to eval mode for the pass, so BatchNorm uses its running statistics
    and the output does not depend on ``batch_size``; afterwards every submodule gets back the
    train/eval mode it had before. An encoder output with more than two dimensions (for example
    (N, D, 1, 1) after global pooling) is flattened to (N, D').
    """
    check_images(images, what="extract_features' input")
    if images.shape[0] == 0:
        raise ContrastlabError("extract_features needs at least one image, got none")
    if batch_size < 1:
        raise ContrastlabError(f"batch_size must be at least 1, got {batch_size}")

    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    modes = [(module, module.training) for module in encoder.modules()]
    encoder.eval()
    try:
        chunks: list[Tensor] = []
        starts = range(0, images.shape[0], batch_size)
        for start in tqdm(starts, desc="features", unit="batch", disable=not progress, leave=False):
            batch = images[start : start + batch_size].to(device, non_blocking=True)
            x = batch.float().div_(255.0).contiguous(memory_format=memory_format)
            out = encoder(x)
            if not isinstance(out, Tensor) or out.ndim < 2 or out.shape[0] != x.shape[0]:
                shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
                raise ContrastlabError(
                    f"the encoder must return one feature vector per image, got {shape} "
                    f"for a batch of {x.shape[0]}"
                )
            chunks.append(out.flatten(1).to(device="cpu", dtype=torch.float32))
    finally:
        for module, was_training in modes:
            module.training = was_training
    return torch.cat(chunks)
