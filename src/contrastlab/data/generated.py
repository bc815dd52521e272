"""Checking a built-in source's options while the recipe is validated, before any work is done.

The built-in sources (shapes, sequences, digits) make every image in memory, so their options
decide the memory a run needs: ``data.options.n_train=1000000000`` would allocate terabytes
before failing. `check_generated` resolves the options exactly as the source will (unknown
names, integers, minimums) and refuses a set whose images cannot fit in this machine's memory,
so `contrastlab train` stops in one line before it makes a run directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contrastlab.core.errors import DataError
from contrastlab.data import limits
from contrastlab.data.options import int_option, resolve_options

DIGITS_IMAGES = 1797  # scikit-learn's digits, all splits
RENDERED_CHANNELS = 3  # shapes and sequences render colour images, whatever data.channels is


def check_generated(
    source: str, options: Mapping[str, Any] | None, image_size: int, channels: int
) -> None:
    """DataError for a built-in source's bad option or an image count that cannot fit in memory;
    nothing for other sources (a path is checked when it is opened)."""
    count = generated_count(source, options)
    if count is not None:
        check_fits_in_memory(count, max(channels, _channels(source)), image_size, source)


def generated_count(source: str, options: Mapping[str, Any] | None) -> int | None:
    """How many images a built-in source makes with `options` (None: not a built-in)."""
    if source == "shapes":
        from contrastlab.data.shapes import DEFAULTS as SHAPES

        opts = resolve_options(options, SHAPES, source)
        int_option(opts, "seed", 0, source)
        return int_option(opts, "n_train", 1, source) + int_option(opts, "n_test", 0, source)
    if source == "sequences":
        from contrastlab.data.sequences import DEFAULTS as SEQUENCES

        opts = resolve_options(options, SEQUENCES, source)
        int_option(opts, "seed", 0, source)
        frames = int_option(opts, "frames", 1, source)
        n = int_option(opts, "n_sequences", 1, source)
        return (n + int_option(opts, "n_test_sequences", 0, source)) * frames
    if source == "digits":
        resolve_options(options, {}, source)
        return DIGITS_IMAGES
    return None


def check_fits_in_memory(count: int, channels: int, image_size: int, source: str) -> None:
    """Refuse `count` uint8 images of ``channels x image_size^2`` that need more bytes than this
    machine has (a lower bound on what decoding holds, so a run that fits is never refused)."""
    need = count * channels * image_size * image_size
    total = limits.memory_bytes()
    if need > total:
        raise DataError(
            f"data source {source} would make {count} images of {image_size}x{image_size}, "
            f"about {_gib(need)} in memory, more than this machine's {_gib(total)}: "
            "lower data.options (n_train, n_test, ...) or data.image_size"
        )


def _channels(source: str) -> int:
    return 1 if source == "digits" else RENDERED_CHANNELS


def _gib(size: int) -> str:
    return f"{size / 2**30:,.1f} GiB"
