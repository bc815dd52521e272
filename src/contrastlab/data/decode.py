"""Decoding one image file to uint8 RGB, or a `DataError` that names the file and the reason.

Every mode becomes 3-channel RGB: greyscale (L, LA) is replicated, palette images (P, PA) are
expanded, CMYK and YCbCr are converted, and an alpha channel is dropped (not composited), as
torchvision's ``ImageFolder`` does. 16-bit greyscale (I;16, and I holding 16-bit values) keeps its
8 most significant bits: converting it directly would clip everything above 255 to white.

Refused, with the file named: what Pillow cannot identify or finish decoding (a truncated file),
images with more than ``PIL.Image.MAX_IMAGE_PIXELS`` pixels (decompression bombs: a few kilobytes
that expand to gigabytes; raise that limit to accept such images on purpose), and images with a
side shorter than `MIN_SIDE` pixels (the 1x1 spacer and tracking pixels of scraped web data),
which hold no spatial structure for a crop to keep (`data.limits.check_sides`, the rule every
source applies). Smaller images than ``data.image_size`` are normal (MNIST's 28 pixels) and are
resized.
"""

from __future__ import annotations

import io
import os
import warnings
from functools import cache

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision.transforms.v2 import functional as tvf

from contrastlab.core.errors import DataError
from contrastlab.data.limits import MIN_SIDE, check_sides

__all__ = ["MIN_SIDE", "decode_image", "to_rgb"]

_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


@cache
def _format_for(extension: str) -> tuple[str, ...] | None:
    """The Pillow format registered for a file extension, to try first when opening."""
    fmt = Image.registered_extensions().get(extension)
    return (fmt,) if fmt in Image.OPEN else None


def _open(data: bytes | None, where: str) -> Image.Image:
    """Open an image, trying the format its file extension names first.

    That is much cheaper than probing every plugin, which dominates for small images; any format
    is tried next, in case the extension does not match the contents.
    """
    hint = _format_for(os.path.splitext(where)[1].lower())
    if hint is not None:
        try:
            return Image.open(io.BytesIO(data) if data is not None else where, formats=hint)
        except UnidentifiedImageError:
            pass
    return Image.open(io.BytesIO(data) if data is not None else where)


def to_rgb(img: Image.Image) -> Image.Image:
    """``img`` as 8-bit RGB (see the module docstring for each mode)."""
    if img.mode in _SIXTEEN_BIT:
        values = np.asarray(img).astype(np.int64)
        if img.mode == "I" and values.max(initial=0) > 65535:  # 32-bit data: its own range
            values = values * 65535 // max(int(values.max()), 1)
        grey = (values.clip(0, 65535) >> 8).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    return img.convert("RGB")


def decode_image(data: bytes | None, where: str) -> torch.Tensor:
    """Decode an image file (read from path `where` if `data` is None) to uint8 RGB (3, H, W)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open(data, where) as img:
                check_sides(*img.size, where)
                rgb = to_rgb(img)
    except DataError:
        raise
    except UnidentifiedImageError as err:
        raise DataError(f"cannot read image {where}: not an image Pillow can identify") from err
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
        raise DataError(
            f"cannot read image {where}: more than PIL.Image.MAX_IMAGE_PIXELS="
            f"{Image.MAX_IMAGE_PIXELS} pixels, a possible decompression bomb ({err}); raise that "
            "limit in your own code to accept it"
        ) from err
    except Exception as err:  # Pillow's decoders raise many types (OSError, SyntaxError, ...)
        reason = " ".join(str(err).split()) or type(err).__name__
        raise DataError(f"cannot read image {where}: {reason}") from err
    return tvf.pil_to_tensor(rgb)
