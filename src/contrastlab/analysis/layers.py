"""Activations of named layers of a model, batch by batch, through forward hooks.

Used by CKA (:mod:`contrastlab.analysis.cka`): images are uint8 (N, C, H, W) fed as floats in
[0, 1] (as :func:`contrastlab.evaluate.extract_features` does), the model in eval mode, each
layer's output flattened to (batch, features) (or global-average-pooled with ``pool``); the
model's train/eval modes are restored afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence

import torch
from torch import Tensor, nn

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_images

__all__ = ["batch_bounds", "check_layers", "layer_features", "run_layers"]


def check_layers(model: nn.Module, layers: Sequence[str], what: str) -> None:
    if isinstance(layers, str) or len(layers) == 0:
        raise ContrastlabError(f"{what} must be a non-empty list of module names, got {layers!r}")
    modules = dict(model.named_modules())
    valid = [name for name in modules if name]
    for name in layers:
        if name not in modules:
            shown = ", ".join(valid[:6]) + (", ..." if len(valid) > 6 else "")
            raise ContrastlabError(
                f"{what}: the model has no module {name!r}; valid names include {shown}"
            )
    repeated = sorted({name for name in layers if list(layers).count(name) > 1})
    if repeated:
        raise ContrastlabError(f"{what} names {repeated[0]!r} more than once")


def batch_bounds(n: int, batch_size: int, min_last: int) -> list[tuple[int, int]]:
    """Batch (start, stop) pairs; a last batch smaller than ``min_last`` joins the one before."""
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < min_last:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def run_layers(
    model: nn.Module,
    images: Tensor,
    layers: Sequence[str],
    bounds: list[tuple[int, int]],
    device: torch.device | str,
    pool: bool,
) -> Generator[dict[str, Tensor], None, None]:
    modules = dict(model.named_modules())
    captured: dict[str, list[Tensor]] = {name: [] for name in layers}

    def hook(name: str) -> Callable[[nn.Module, object, object], None]:
        def store(_module: nn.Module, _inputs: object, output: object) -> None:
            if not isinstance(output, Tensor):
                raise ContrastlabError(
                    f"layer {name!r} returns {type(output).__name__}, not a tensor; "
                    "choose one of its submodules"
                )
            captured[name].append(output.detach())

        return store

    modes = [(module, module.training) for module in model.modules()]
    handles = [modules[name].register_forward_hook(hook(name)) for name in layers]
    model.eval()
    try:
        for start, stop in bounds:
            x = images[start:stop].to(device, non_blocking=True).float().div_(255.0)
            with torch.no_grad():
                model(x)
            batch: dict[str, Tensor] = {}
            for name in layers:
                outputs, captured[name] = captured[name], []
                if len(outputs) != 1:
                    raise ContrastlabError(
                        f"layer {name!r} ran {len(outputs)} times in one forward pass; "
                        "CKA needs a module that runs exactly once"
                    )
                out = outputs[0]
                if out.ndim < 1 or out.shape[0] != stop - start:
                    raise ContrastlabError(
                        f"layer {name!r} gave shape {tuple(out.shape)} for a batch of "
                        f"{stop - start}; it must keep one row per image"
                    )
                if pool and out.ndim == 4:
                    out = out.mean(dim=(2, 3))
                batch[name] = out.reshape(out.shape[0], -1)
            yield batch
    finally:
        for handle in handles:
            handle.remove()
        for module, was_training in modes:
            module.training = was_training


def layer_features(
    model: nn.Module,
    images: Tensor,
    layers: Sequence[str],
    *,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    pool: bool = False,
) -> Generator[dict[str, Tensor], None, None]:
    """Per batch, the outputs of the named modules of ``model``: ``{name: (batch, D_name)}``.

    ``layers`` are names from ``dict(model.named_modules())`` (for a ResNet "layer1",
    "layer2.0.conv1", ...). ``images`` is a uint8 (N, C, H, W) CPU tensor fed as ``x / 255``
    in batches of ``batch_size``, as :func:`contrastlab.evaluate.extract_features` does; the
    model must already live on ``device``, and the features stay there. Forward hooks catch each
    output, flattened to (batch, -1); with ``pool`` a 4-D output is global-average-pooled to
    (batch, C) first. The model runs in eval mode without gradients; hooks are removed and every
    submodule's train/eval mode is restored when the iterator is exhausted or closed.
    Arguments are checked at the call, before the first batch.
    """
    check_images(images, what="layer_features' input")
    if images.shape[0] == 0:
        raise ContrastlabError("layer_features needs at least one image, got none")
    if batch_size < 1:
        raise ContrastlabError(f"batch_size must be at least 1, got {batch_size}")
    check_layers(model, layers, "layers")
    bounds = batch_bounds(images.shape[0], batch_size, 1)
    return run_layers(model, images, list(layers), bounds, device, pool)
