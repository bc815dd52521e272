"""Image files as a source: which file names are images, and `ImageFilesSource`, files decoded
on access (what image folders, frame folders and tar archives hold)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import cache

from PIL import Image

from contrastlab.data.decode import decode_image
from contrastlab.data.source import Sample

__all__ = ["ImageFile", "ImageFilesSource", "image_extensions", "is_image_name"]

# One image file: (relative path components, name used in messages, bytes or None to read the file)
ImageFile = tuple[tuple[str, ...], str, bytes | None]


@cache
def image_extensions() -> frozenset[str]:
    """Lower-case file extensions (with the dot) of the formats Pillow can open."""
    registered = Image.registered_extensions()
    return frozenset(ext.lower() for ext, fmt in registered.items() if fmt in Image.OPEN)


def is_image_name(name: str) -> bool:
    """True for a visible file name whose extension is one Pillow opens."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in image_extensions()


class ImageFilesSource:
    """Image files decoded on access; entries are (name in messages, label, bytes or None)."""

    def __init__(
        self,
        name: str,
        entries: Sequence[tuple[str, int, bytes | None]],
        classes: Sequence[str],
        metas: Sequence[Mapping[str, float]] | None = None,
    ) -> None:
        self.name = name
        self.classes: Sequence[str] = tuple(classes)
        self.entries = list(entries)
        self.metas = list(metas) if metas is not None else None

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Sample:
        where, label, data = self.entries[index]
        meta = self.metas[index] if self.metas is not None else {}
        return Sample(image=decode_image(data, where), label=label, meta=meta)
