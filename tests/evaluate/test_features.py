"""Frozen feature extraction: values, batch-size independence, mode restoration, layouts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate import extract_features


def small_encoder(seed: int = 0) -> nn.Sequential:
    """A conv net with BatchNorm whose running statistics are far from their initial values."""
    torch.manual_seed(seed)
    encoder = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 6, 3, stride=2),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    encoder.train()
    with torch.no_grad():
        for _ in range(3):
            encoder(torch.rand(16, 3, 10, 10) * 3 + 1)
    return encoder


def random_images(n: int = 37, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 10, 10), generator=g, dtype=torch.uint8)


def direct(encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
    encoder.eval()
    with torch.no_grad():
        return encoder(images / 255)


def test_equals_encoder_on_scaled_images() -> None:
    encoder, images = small_encoder(), random_images()
    features = extract_features(encoder, images)
    assert features.dtype == torch.float32
    assert features.device.type == "cpu"
    assert features.shape == (37, 6)
    assert not features.requires_grad
    torch.testing.assert_close(features, direct(encoder, images))


@pytest.mark.parametrize("batch_size", [1, 5, 36, 37, 512])
def test_independent_of_batch_size(batch_size: int) -> None:
    encoder, images = small_encoder(), random_images()
    features = extract_features(encoder, images, batch_size=batch_size)
    torch.testing.assert_close(features, direct(encoder, images), rtol=1e-5, atol=1e-6)


def test_batch_norm_uses_running_statistics() -> None:
    # In train mode the batch statistics would make a single image's features depend on its
    # batch; in eval mode they do not, and the running statistics are left untouched.
    encoder, images = small_encoder(), random_images()
    before = [b.clone() for b in encoder.buffers()]
    alone = extract_features(encoder, images[:1])
    together = extract_features(encoder, images)[:1]
    torch.testing.assert_close(alone, together, rtol=1e-5, atol=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.buffers(), strict=True))


def test_restores_training_mode() -> None:
    encoder = small_encoder()
    encoder.train()
    encoder[4].eval()  # a mixed state must come back exactly
    modes = [m.training for m in encoder.modules()]
    extract_features(encoder, random_images(4))
    assert [m.training for m in encoder.modules()] == modes

    encoder.eval()
    extract_features(encoder, random_images(4))
    assert not any(m.training for m in encoder.modules())


def test_restores_training_mode_when_the_encoder_fails() -> None:
    class Failing(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("boom")

    encoder = nn.Sequential(nn.BatchNorm2d(3), Failing()).train()
    with pytest.raises(RuntimeError, match="boom"):
        extract_features(encoder, random_images(2))
    assert all(m.training for m in encoder.modules())


def test_channels_last_gives_the_same_values() -> None:
    encoder, images = small_encoder(), random_images()
    reference = extract_features(encoder, images)
    assert torch.allclose(
        extract_features(encoder, images, channels_last=True), reference, rtol=1e-4, atol=1e-5
    )
    encoder = encoder.to(memory_format=torch.channels_last)
    assert torch.allclose(
        extract_features(encoder, images, channels_last=True), reference, rtol=1e-4, atol=1e-5
    )


def test_pooled_outputs_are_flattened() -> None:
    encoder = nn.Sequential(nn.Conv2d(3, 5, 1), nn.AdaptiveAvgPool2d(1))
    features = extract_features(encoder, random_images(3), device=torch.device("cpu"))
    assert features.shape == (3, 5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_matches_cpu() -> None:
    encoder, images = small_encoder(), random_images()
    reference = extract_features(encoder, images)
    encoder = encoder.cuda()
    for channels_last in (False, True):
        features = extract_features(
            encoder, images, device="cuda", batch_size=8, channels_last=channels_last
        )
        assert features.device.type == "cpu" and features.dtype == torch.float32
        # TF32 convolutions may be enabled: compare loosely.
        torch.testing.assert_close(features, reference, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (torch.rand(2, 3, 4, 4), r"input must be a uint8 tensor \(N, C, H, W\), got torch.float32"),
        (torch.zeros(3, 4, 4, dtype=torch.uint8), r"got torch.uint8 of shape \(3, 4, 4\)"),
        (torch.zeros(0, 3, 4, 4, dtype=torch.uint8), "needs at least one image"),
    ],
)
def test_errors(images: torch.Tensor, message: str) -> None:
    with pytest.raises(ContrastlabError, match=message):
        extract_features(nn.Flatten(), images)


def test_bad_batch_size_and_bad_encoder_output() -> None:
    with pytest.raises(ContrastlabError, match="batch_size must be at least 1"):
        extract_features(nn.Flatten(), random_images(2), batch_size=0)

    class Scalar(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.sum()

    with pytest.raises(ContrastlabError, match="one feature vector per image"):
        extract_features(Scalar(), random_images(2))


def test_progress_bar_goes_to_stderr_and_changes_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 5))
    images = torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8)
    quiet = extract_features(encoder, images, batch_size=3)
    capsys.readouterr()
    loud = extract_features(encoder, images, batch_size=3, progress=True)
    captured = capsys.readouterr()
    assert torch.equal(quiet, loud)
    assert "features" in captured.err and captured.out == ""
