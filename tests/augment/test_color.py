"""SimCLRViews.apply, colour: jitter ops, per-image order and greyscale against torchvision."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from contrastlab.augment import SimCLRAugment, SimCLRViews, ViewParams
from contrastlab.augment.blur import blur_kernel_size

TOL = 1e-5  # float32 rounding only: same formulas, occasionally a fused multiply-add

OPS: list[Callable[[torch.Tensor, float], torch.Tensor]] = [
    TF.adjust_brightness,
    TF.adjust_contrast,
    TF.adjust_saturation,
    TF.adjust_hue,
]
NAMES = ["brightness", "contrast", "saturation", "hue"]
FACTORS = {
    "brightness": [0.0, 0.6, 0.93, 1.0, 1.25, 1.8],
    "contrast": [0.0, 0.6, 0.93, 1.0, 1.25, 1.8],
    "saturation": [0.0, 0.6, 0.93, 1.0, 1.25, 1.8],
    "hue": [-0.5, -0.1, 0.0, 0.05, 0.3, 0.5],
}


def _views(size: int = 16) -> SimCLRViews:
    return SimCLRViews(SimCLRAugment(), image_size=size)


def _images(n: int, channels: int = 3, size: int = 16) -> torch.Tensor:
    x = torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(n))
    x[:, :, :2] = x[:, :1, :2]  # some grey pixels (equal channels)
    x[:, :, -1] = (x[:, :, -1] * 4).round() / 4  # ties between channels, zeros and ones
    return x


def _jitter_params(factors: torch.Tensor, order: torch.Tensor) -> ViewParams:
    n = len(factors)
    params = ViewParams.identity(n)
    params.jitter[:] = True
    params.factors[:] = factors
    params.order[:] = order
    return params


@pytest.mark.parametrize("op", range(4), ids=NAMES)
def test_each_op_alone_matches_torchvision(op: int) -> None:
    values = FACTORS[NAMES[op]]
    n = len(values)
    x = _images(n)
    factors = torch.tensor([1.0, 1.0, 1.0, 0.0]).repeat(n, 1)
    factors[:, op] = torch.tensor(values)
    order = torch.rand(n, 4, generator=torch.Generator().manual_seed(op)).argsort(dim=1)
    out = _views().apply(x, _jitter_params(factors, order))
    for i, f in enumerate(values):
        want = OPS[op](x[i], f)
        assert (out[i] - want).abs().max().item() < TOL, (NAMES[op], f)


def test_per_image_order_is_honoured() -> None:
    x = _images(1).expand(4, -1, -1, -1).contiguous()
    factors = torch.tensor([1.5, 0.5, 1.7, 0.3]).expand(4, 4)
    orders = torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]])
    out = _views().apply(x, _jitter_params(factors, orders))
    for i, order in enumerate(orders.tolist()):
        want = x[i]
        for op in order:
            want = OPS[op](want, factors[i, op].item())
        assert (out[i] - want).abs().max().item() < TOL, order
    # the orders really give different images
    assert (out[0] - out[1]).abs().max().item() > 0.05


def test_unjittered_rows_are_untouched() -> None:
    x = _images(4)
    factors = torch.tensor([1.5, 0.5, 1.7, 0.3]).expand(4, 4)
    params = _jitter_params(factors, torch.arange(4).expand(4, 4))
    params.jitter[[1, 2]] = False
    out = _views().apply(x, params)
    plain = _views().apply(x, ViewParams.identity(4))
    assert torch.equal(out[[1, 2]], plain[[1, 2]])
    assert (out[0] - plain[0]).abs().max().item() > 0.05


def test_greyscale_matches_torchvision() -> None:
    x = _images(3)
    params = ViewParams.identity(3)
    params.gray[[0, 2]] = True
    out = _views().apply(x, params)
    for i in (0, 2):
        assert (out[i] - TF.rgb_to_grayscale(x[i], num_output_channels=3)).abs().max() < TOL
    assert (out[1] - x[1]).abs().max().item() < TOL


def test_single_channel_images() -> None:
    """Brightness and contrast as torchvision; saturation, hue and greyscale leave them alone."""
    x = _images(4, channels=1)
    factors = torch.tensor([[1.3, 0.7, 0.2, 0.4]]).expand(4, 4)
    params = _jitter_params(factors, torch.arange(4).expand(4, 4))
    params.gray[:] = True
    out = _views().apply(x, params)
    for i in range(4):
        want = TF.adjust_contrast(TF.adjust_brightness(x[i], 1.3), 0.7)
        assert (out[i] - want).abs().max().item() < TOL


def test_whole_pipeline_matches_a_torchvision_loop() -> None:
    """Random params for every step, against torchvision applied image by image."""
    size, hw = 32, (36, 40)
    views = SimCLRViews(SimCLRAugment(jitter_strength=1.0, blur_p=0.5), image_size=size)
    x = torch.rand(48, 3, *hw, generator=torch.Generator().manual_seed(5))
    params = views.sample(48, torch.Generator().manual_seed(0), hw)
    out = views.apply(x, params)
    scale = torch.tensor([hw[0], hw[1], hw[0], hw[1]], dtype=torch.float64)
    k = blur_kernel_size(size)
    for i in range(48):
        top, left, h, w = (int(v) for v in (params.crop[i].double() * scale).round().tolist())
        want = TF.resized_crop(x[i], top, left, h, w, [size, size], antialias=False)
        if params.flip[i]:
            want = TF.horizontal_flip(want)
        if params.jitter[i]:
            for op in params.order[i].tolist():
                want = OPS[op](want, params.factors[i, op].item())
        if params.gray[i]:
            want = TF.rgb_to_grayscale(want, num_output_channels=3)
        if params.blur[i]:
            want = TF.gaussian_blur(want, [k, k], [params.sigma[i].item()] * 2)
        # up to five ops chained, each within ~1e-6 of torchvision
        assert (out[i] - want).abs().max().item() < 1e-4, i
