"""Bounds the data readers share, so every source refuses the same things in the same words.

* `MIN_SIDE`: an image from any source (files, archives, npz, IDX, CIFAR, video) has every side
  at least 2 pixels. 1-pixel images (the spacer and tracking pixels of scraped web data, or an
  array saved with its axes swapped) hold no spatial structure for a crop to keep.
* `check_fits`: sizes a file *declares* (a header's shape, an archive member's size) are checked
  before anything of that size is allocated. A few kilobytes can declare gigabytes (a forged
  header, a decompression bomb); allocating first ends in a traceback or an out-of-memory kill
  instead of a message naming the file. Data declaring more bytes than this machine's physical
  memory cannot be held in memory, which is how every in-memory reader keeps it, so it is refused.
"""

from __future__ import annotations

import os

from contrastlab.core.errors import DataError

__all__ = ["MIN_SIDE", "check_fits", "check_sides", "memory_bytes"]

MIN_SIDE = 2
# Where the OS does not say how much memory there is (no os.sysconf, e.g. Windows).
_UNKNOWN_MEMORY = 64 * 2**30


def check_sides(width: int, height: int, where: str, *, many: bool = False) -> None:
    """Refuse an image (or, with `many`, the images of an array source) narrower than MIN_SIDE."""
    if min(width, height) >= MIN_SIDE:
        return
    subject = f"the images of {where}: they are" if many else f"image {where}: it is"
    raise DataError(
        f"cannot use {subject} {width}x{height} pixels, and every side must be at least {MIN_SIDE}"
    )


def memory_bytes() -> int:
    """This machine's physical memory in bytes (64 GiB where the OS does not report it)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return _UNKNOWN_MEMORY
    return total if total > 0 else _UNKNOWN_MEMORY


def check_fits(nbytes: int, what: str) -> None:
    """Refuse `what` (e.g. "npz file X: array 'images' of shape (...)") when the bytes it
    declares exceed this machine's memory, before they are allocated."""
    limit = memory_bytes()
    if nbytes > limit:
        raise DataError(
            f"{what} declares {nbytes:,} bytes, more than this machine's memory ({limit:,} bytes)"
        )
