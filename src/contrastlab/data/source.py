"""What a data source is: `Sample`, the `ImageSource` protocol every reader implements, and
`SourceSplits`. `contrastlab.data.opening.open_source` turns a spec into one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

BUILTIN_SOURCES: tuple[str, ...] = ("shapes", "digits", "sequences")

TAR_SUFFIXES: tuple[str, ...] = (".tar", ".tar.gz", ".tgz")


@dataclass(frozen=True)
class Sample:
    """One decoded image with its class index (-1 when unlabelled) and per-sample metadata."""

    image: torch.Tensor  # uint8, shape (C, H, W), C in {1, 3}
    label: int  # class index, -1 when unlabelled
    meta: Mapping[str, float]  # per-sample metadata (e.g. shape factors); may be empty


@runtime_checkable
class ImageSource(Protocol):
    """Random access to decoded samples; `name` says where they come from (for messages)."""

    name: str  # human-readable origin (a path or a built-in name), used in messages
    classes: Sequence[str]  # class names in label order; empty when unlabelled

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Sample: ...


@dataclass
class SourceSplits:
    """The splits of a spec: always a train split, a test split when the data has one built in."""

    train: ImageSource
    test: ImageSource | None  # None when the source has no built-in held-out split
