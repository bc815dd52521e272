"""Unusual and broken image files: every mode decodes to the RGB it means, and what cannot be
used is named (exit 2), or with ``--on-bad-image skip`` left out, counted and listed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from contrastlab.cli import main
from contrastlab.core.errors import DataError
from contrastlab.data.decode import decode_image

RNG = np.random.default_rng(0)


def pixels(*shape: int, dtype: type = np.uint8, high: int = 256) -> np.ndarray:
    return RNG.integers(0, high, size=shape, dtype=dtype)


def decoded(tmp_path: Path, image: Image.Image, name: str) -> np.ndarray:
    path = tmp_path / name
    image.save(path)
    return decode_image(None, str(path)).permute(1, 2, 0).numpy()


def test_greyscale_and_grey_alpha_are_replicated(tmp_path: Path) -> None:
    grey = pixels(9, 7)
    for image, name in [
        (Image.fromarray(grey, "L"), "l.png"),
        (Image.fromarray(np.dstack([grey, pixels(9, 7)]), "LA"), "la.png"),
    ]:
        rgb = decoded(tmp_path, image, name)
        assert rgb.shape == (9, 7, 3)
        for channel in range(3):
            assert np.array_equal(rgb[..., channel], grey)


def test_alpha_is_dropped_and_palette_expanded(tmp_path: Path) -> None:
    rgba = pixels(6, 8, 4)
    assert np.array_equal(decoded(tmp_path, Image.fromarray(rgba, "RGBA"), "a.png"), rgba[..., :3])
    palette = Image.fromarray(pixels(6, 8, 3)).convert("P")
    expected = np.asarray(palette.convert("RGB"))
    assert np.array_equal(decoded(tmp_path, palette, "p.png"), expected)


def test_cmyk_is_converted(tmp_path: Path) -> None:
    cmyk = Image.fromarray(pixels(8, 8, 4), "CMYK")
    path = tmp_path / "c.tiff"  # TIFF keeps CMYK exactly (JPEG would re-encode it)
    cmyk.save(path)
    rgb = decode_image(None, str(path)).permute(1, 2, 0).numpy()
    c, m, y, k = (np.asarray(cmyk, dtype=np.int64)[..., i] for i in range(4))
    # subtractive inks: R = (255 - C)(255 - K)/255, and likewise G from M and B from Y
    for channel, ink in enumerate((c, m, y)):
        expected = (255 - ink) * (255 - k) / 255
        assert np.abs(rgb[..., channel] - expected).max() <= 1


def test_sixteen_bit_keeps_its_high_byte(tmp_path: Path) -> None:
    deep = pixels(10, 6, dtype=np.uint16, high=65536)
    rgb = decoded(tmp_path, Image.fromarray(deep), "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    assert np.array_equal(rgb[..., 0], (deep >> 8).astype(np.uint8))
    assert rgb.mean() < 200  # a direct conversion clips everything above 255: mean ~255


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not an image", "not an image Pillow can identify"),
        ("truncated", "truncated"),
        ("tiny", "1x5 pixels"),
    ],
)
def test_unusable_files_are_named(tmp_path: Path, content: bytes | str, message: str) -> None:
    path = tmp_path / "bad.png"
    if content == "truncated":
        Image.fromarray(pixels(40, 40, 3)).save(path)
        path.write_bytes(path.read_bytes()[:300])
    elif content == "tiny":
        Image.fromarray(pixels(5, 1, 3)).save(path)
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as caught:
        decode_image(None, str(path))
    assert str(path) in str(caught.value)


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bomb.png"
    Image.new("L", (300, 300)).save(path)  # 90000 pixels in a few hundred bytes
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50_000)  # below it: only a warning in Pillow
    with pytest.raises(DataError, match="decompression bomb") as caught:
        decode_image(None, str(path))
    assert str(path) in str(caught.value) and "MAX_IMAGE_PIXELS=50000" in str(caught.value)


def folder_with_bad_images(root: Path) -> list[str]:
    """Two classes of 12 good images, plus two bad files; the bad files' paths."""
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(pixels(12, 12, 3)).save(root / label / f"{i}.png")
    bad = [root / "a" / "broken.png", root / "b" / "pixel.png"]
    bad[0].write_bytes(b"\x89PNG not really")
    Image.fromarray(pixels(1, 1, 3)).save(bad[1])
    return [str(path) for path in bad]


TRAIN = ["--epochs", "1", "--batch-size", "8", "--set", "data.image_size=8"]
TRAIN += ["--set", "model.width=0.0625", "--set", "model.head_out_dim=8"]
TRAIN += ["--set", "train.progress=false", "--set", "eval.protocols=[knn]"]


def test_cli_names_a_bad_image_then_skips_and_lists_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = folder_with_bad_images(tmp_path / "data")
    args = ["train", "--data", str(tmp_path / "data"), *TRAIN]
    assert main([*args, "--out", str(tmp_path / "stop")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert any(path in err for path in bad)
    assert not (tmp_path / "stop" / "checkpoints").exists()  # stopped before any training

    out = tmp_path / "skip"
    assert main([*args, "--out", str(out), "--on-bad-image", "skip"]) == 0
    listed = (out / "bad_images.txt").read_text().splitlines()
    assert len(listed) == 2 and all(any(path in line for line in listed) for path in bad)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["skipped_images"] == 2
    assert metrics["n_train"] + metrics["n_test"] == 24  # the good images, nothing else
    assert "skipped 2 unreadable image(s)" in capsys.readouterr().err
    assert torch.load(out / "checkpoints" / "last.pt", weights_only=True)["step"] >= 1
