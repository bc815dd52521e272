"""Frame sequences on disk: a folder of frame folders, or a video file (one sequence).

A folder read with ``data.options.layout=frames`` holds one folder of image files per sequence,
either directly (``seq/frame``, unlabelled) or under class folders (``class/seq/frame``, labelled
by class). Frames are ordered by file name within their folder; sequences by folder path. Each
sample's ``meta`` has ``sequence`` (the folder's index) and ``frame`` (the rank of its name).
"""

from __future__ import annotations

from collections.abc import Sequence

from contrastlab.core.errors import DataError
from contrastlab.data.image_files import ImageFile, ImageFilesSource
from contrastlab.data.source import SourceSplits

FRAME_LAYOUTS = "expected sequence/frame files (unlabelled) or class/sequence/frame (labelled)"


def frame_folder_splits(name: str, files: Sequence[ImageFile]) -> SourceSplits:
    """One training split of every frame, with ``sequence`` and ``frame`` metadata."""
    if not files:
        raise DataError(f"no image files in {name}")
    depths = sorted({len(f[0]) for f in files})
    if len(depths) > 1 or depths[0] not in (2, 3):
        found = ", ".join(str(d) for d in depths)
        raise DataError(
            f"{name} is not a folder of frame folders (files at depth {found}); {FRAME_LAYOUTS}"
        )
    ordered = sorted(files, key=lambda f: f[0])
    folders = sorted({f[0][:-1] for f in ordered})
    sequence = {folder: i for i, folder in enumerate(folders)}
    classes = sorted({folder[0] for folder in folders}) if depths[0] == 3 else []
    label_of = {c: i for i, c in enumerate(classes)}
    entries, metas = [], []
    rank: dict[tuple[str, ...], int] = {}
    for parts, where, data in ordered:
        folder = parts[:-1]
        frame = rank.get(folder, 0)
        rank[folder] = frame + 1
        entries.append((where, label_of[folder[0]] if classes else -1, data))
        metas.append({"sequence": float(sequence[folder]), "frame": float(frame)})
    return SourceSplits(train=ImageFilesSource(name, entries, classes, metas), test=None)
