"""Data sources: decoded uint8 images with labels and metadata, and in-memory tensors of them.

`open_source` turns a spec (a built-in name or a path) into train/test sources; `materialize`
decodes a source once into an `ImageTensors`; `holdout_split` and `take_subset` split and
subsample it deterministically.
"""

from __future__ import annotations

from contrastlab.data.opening import open_source
from contrastlab.data.source import BUILTIN_SOURCES, ImageSource, Sample, SourceSplits
from contrastlab.data.tensors import (
    ImageTensors,
    conform,
    holdout_split,
    materialize,
    take_subset,
)

__all__ = [
    "BUILTIN_SOURCES",
    "ImageSource",
    "ImageTensors",
    "Sample",
    "SourceSplits",
    "conform",
    "holdout_split",
    "materialize",
    "open_source",
    "take_subset",
]
