"""Image trees: a folder of image files, or (via `data.archive`) the image members of a tar.

Any format Pillow can open is accepted, recognised by file extension (from
``PIL.Image.registered_extensions()``); hidden files and folders (names starting with ".") and
other files are ignored. The tree's layout decides the splits and labels (see `data.layout`), or,
with the option ``layout=frames``, it is a folder of frame sequences (see `data.frames`).
Files are decoded lazily, one per ``__getitem__``, and always converted to 3-channel RGB
(`data.decode`), so all images of a source have the same channel count whatever their format.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from contrastlab.core.errors import DataError
from contrastlab.data.frames import frame_folder_splits
from contrastlab.data.image_files import ImageFile, ImageFilesSource, is_image_name
from contrastlab.data.layout import arrange
from contrastlab.data.options import choice_option, resolve_options
from contrastlab.data.source import SourceSplits


def image_tree_splits(name: str, files: Sequence[ImageFile]) -> SourceSplits:
    """Arrange image files into splits by their relative paths (see `data.layout`)."""
    ordered = sorted(files, key=lambda f: f[0])
    tree = arrange([f[0] for f in ordered], name)
    sources: dict[str, ImageFilesSource] = {}
    for split, members in tree.splits.items():
        entries = [(ordered[i][1], label, ordered[i][2]) for i, label in members]
        split_name = name if len(tree.splits) == 1 else f"{name}:{split}"
        sources[split] = ImageFilesSource(split_name, entries, tree.classes)
    return SourceSplits(train=sources["train"], test=sources.get("test"))


def _walk(root: Path) -> list[ImageFile]:
    """Visible image files under `root`, following symlinked folders (each real folder once)."""
    found: list[ImageFile] = []
    seen: set[str] = set()

    def on_error(err: OSError) -> None:
        raise DataError(f"cannot list folder {err.filename}: {err.strerror}")

    for current, dirs, names in os.walk(root, onerror=on_error, followlinks=True):
        real = os.path.realpath(current)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = Path(current).relative_to(root).parts
        for file_name in names:
            path = os.path.join(current, file_name)
            if is_image_name(file_name) and os.path.isfile(path):
                found.append(((*rel, file_name), path, None))
    return found


def open_image_folder(root: Path, options: Mapping[str, Any] | None = None) -> SourceSplits:
    """A folder tree of image files (see the module docstring). Option ``layout``: ``classes``
    (default, the rules of `data.layout`) or ``frames`` (a folder of frame folders, one per
    sequence: `data.frames`)."""
    opts = resolve_options(options, {"layout": "classes"}, str(root))
    layout = choice_option(opts, "layout", ("classes", "frames"), str(root))
    files = _walk(root)
    if not files:
        raise DataError(f"empty image folder: {root} (no files Pillow can read)")
    if layout == "frames":
        return frame_folder_splits(str(root), files)
    return image_tree_splits(str(root), files)
