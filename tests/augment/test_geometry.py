"""SimCLRViews.apply, geometry: crop, resize and flip against torchvision; replay; dtypes."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from contrastlab.augment import SimCLRAugment, SimCLRViews, ViewParams
from contrastlab.augment.blur import blur_kernel_size, gaussian_blur

# Our crop samples exactly the source positions torchvision's resized_crop(antialias=False) samples
# (including the clamp to the box's edge pixels when upsampling); the only difference is float32
# rounding of the positions through grid_sample's [-1, 1] coordinates, about 1e-6 pixel, so even on
# a random (non-smooth) image in [0, 1] the outputs agree to ~2e-6. We assert 1e-5.
TOL = 1e-5


def _views(size: int) -> SimCLRViews:
    return SimCLRViews(SimCLRAugment(), image_size=size)


def _boxes(params: ViewParams, boxes: list[tuple[int, int, int, int]], hw: tuple[int, int]) -> None:
    """Write pixel boxes (top, left, height, width) on a source of size hw as fractions."""
    scale = torch.tensor([hw[0], hw[1], hw[0], hw[1]], dtype=torch.float32)
    params.crop[:] = torch.tensor(boxes, dtype=torch.float32) / scale


def _smooth(n: int, height: int, width: int) -> torch.Tensor:
    y = torch.linspace(0, 1, height).view(1, 1, height, 1)
    x = torch.linspace(0, 1, width).view(1, 1, 1, width)
    phase = torch.arange(n * 3, dtype=torch.float32).view(n, 3, 1, 1)
    return 0.5 + 0.4 * torch.sin(3 * x + 2 * y + phase) * torch.cos(2 * x - y + phase / 2)


def test_full_crop_without_flip_is_identity() -> None:
    x = torch.rand(5, 3, 24, 24)
    out = _views(24).apply(x, ViewParams.identity(5))
    assert (out - x).abs().max().item() < TOL
    x8 = torch.randint(0, 256, (5, 3, 24, 24), dtype=torch.uint8)
    out8 = _views(24).apply(x8, ViewParams.identity(5))
    assert (out8 - x8.float() / 255).abs().max().item() < TOL


def test_flip_mirrors_left_right() -> None:
    x = torch.rand(4, 3, 16, 16)
    params = ViewParams.identity(4)
    params.flip[[1, 3]] = True
    out = _views(16).apply(x, params)
    want = torch.where(params.flip.view(4, 1, 1, 1), torch.flip(x, dims=[-1]), x)
    assert (out - want).abs().max().item() < TOL


@pytest.mark.parametrize("image", ["smooth", "random"])
def test_crop_matches_torchvision_resized_crop(image: str) -> None:
    hw = (40, 48)
    boxes = [(5, 7, 20, 30), (0, 0, 40, 48), (13, 2, 9, 11), (0, 10, 40, 33), (31, 40, 9, 8)]
    n = len(boxes)
    x = _smooth(n, *hw) if image == "smooth" else torch.rand(n, 3, *hw)
    params = ViewParams.identity(n)
    _boxes(params, boxes, hw)
    params.flip[2] = True
    out = _views(32).apply(x, params)  # upsamples some boxes, downsamples others
    for i, (top, left, h, w) in enumerate(boxes):
        want = TF.resized_crop(x[i], top, left, h, w, [32, 32], antialias=False)
        if params.flip[i]:
            want = TF.horizontal_flip(want)
        assert (out[i] - want).abs().max().item() < TOL, boxes[i]


def test_crop_fractions_replay_on_another_size() -> None:
    """The same fractional box picks the same region of a 2x larger copy of the image."""
    x = _smooth(2, 64, 64)
    params = ViewParams.identity(2)
    params.crop[:] = torch.tensor([0.25, 0.5, 0.5, 0.25])
    out = _views(16).apply(x, params)
    want = TF.resized_crop(x, 16, 32, 32, 16, [16, 16], antialias=False)
    assert (out - want).abs().max().item() < TOL
    small = TF.resize(x, [32, 32], antialias=True)
    assert (_views(16).apply(small, params) - out).abs().max().item() < 0.02


def test_blur_matches_torchvision_gaussian_blur() -> None:
    x = torch.rand(4, 3, 32, 32)
    sigma = torch.tensor([0.1, 0.7, 1.3, 2.0])
    k = blur_kernel_size(32)
    out = gaussian_blur(x, sigma, k)
    for i in range(4):
        want = TF.gaussian_blur(x[i], [k, k], [sigma[i].item()] * 2)
        assert (out[i] - want).abs().max().item() < TOL
    assert [blur_kernel_size(s) for s in (8, 32, 64, 96, 224)] == [3, 3, 7, 9, 23]


def test_blur_applies_only_where_asked() -> None:
    x = torch.rand(3, 3, 32, 32)
    params = ViewParams.identity(3)
    params.blur[1] = True
    params.sigma[:] = 1.5
    out = _views(32).apply(x, params)
    assert torch.equal(out[[0, 2]], _views(32).apply(x, ViewParams.identity(3))[[0, 2]])
    want = TF.gaussian_blur(x[1], [3, 3], [1.5, 1.5])
    assert (out[1] - want).abs().max().item() < TOL


def test_apply_replays_bit_identically() -> None:
    views = SimCLRViews(SimCLRAugment(blur_p=0.5), image_size=32)
    x = torch.randint(0, 256, (64, 3, 40, 36), dtype=torch.uint8)
    params = views.sample(64, torch.Generator().manual_seed(0), (40, 36))
    first, second = views.apply(x, params), views.apply(x, params)
    assert torch.equal(first, second)
    # the same generator seed through __call__ gives the same views
    again = views(x, torch.Generator().manual_seed(0))
    assert torch.equal(again, first)
    # the same params on another batch: same transform per row (rows of x in another order)
    perm = torch.randperm(64)
    moved = views.apply(x[perm], params.select(perm))
    assert torch.equal(moved, first[perm])


def test_output_dtype_range_and_shape() -> None:
    views = SimCLRViews(SimCLRAugment(jitter_strength=1.0, blur_p=0.5), image_size=24)
    x = torch.randint(0, 256, (32, 3, 40, 30), dtype=torch.uint8)
    out = views(x, torch.Generator().manual_seed(1))
    assert out.shape == (32, 3, 24, 24) and out.dtype == torch.float32
    assert out.device == x.device
    assert out.min().item() >= 0.0 and out.max().item() <= 1.0
    out64 = views(x.double() / 255, torch.Generator().manual_seed(1))
    assert out64.dtype == torch.float32
    assert (out64 - out).abs().max().item() < 1e-4


def test_empty_batch() -> None:
    views = _views(16)
    out = views(torch.zeros(0, 3, 20, 20, dtype=torch.uint8), torch.Generator())
    assert out.shape == (0, 3, 16, 16)


def test_bad_inputs_are_refused() -> None:
    views = _views(16)
    with pytest.raises(ValueError, match="C = 1 or 3"):
        views.apply(torch.zeros(2, 4, 16, 16), ViewParams.identity(2))
    with pytest.raises(ValueError, match="3 view params for a batch of 2"):
        views.apply(torch.zeros(2, 3, 16, 16), ViewParams.identity(3))
    with pytest.raises(TypeError, match="uint8 or floating"):
        views.apply(torch.zeros(2, 3, 16, 16, dtype=torch.int32), ViewParams.identity(2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    views = SimCLRViews(SimCLRAugment(blur_p=0.5), image_size=32)
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    params = views.sample(64, torch.Generator().manual_seed(0), (32, 32))
    out = views.apply(x.cuda(), params)
    assert out.device.type == "cuda" and out.dtype == torch.float32
    assert (out.cpu() - views.apply(x, params)).abs().max().item() < 1e-4
    assert all(t.device.type == "cpu" for t in params.to_dict().values())
