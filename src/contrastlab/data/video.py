"""A video file as one sequence of frames (for temporal positives).

Decoded with torchvision's video I/O where the installed torchvision has it
(``torchvision.io.read_video``; it was removed in recent releases), otherwise with PyAV
(``pip install "contrastlab[video]"``). Frames are unlabelled, RGB, and scaled on decoding so that
their shorter side is at most ``short_side`` (memory stays bounded for long, large videos).
Options: ``stride`` (keep every k-th frame, default 1), ``max_frames`` (0 = all, the default) and
``short_side`` (default 128). Each sample's ``meta`` has ``sequence`` (0) and ``frame`` (the kept
frame's rank).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
import torchvision
from torchvision.transforms.v2 import functional as tvf

from contrastlab.core.errors import DataError
from contrastlab.data.memory import ArraySource
from contrastlab.data.options import int_option, resolve_options
from contrastlab.data.source import Sample, SourceSplits

VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
DEFAULTS: dict[str, Any] = {"stride": 1, "max_frames": 0, "short_side": 128}


def _torchvision_frames(path: Path) -> Iterator[torch.Tensor]:
    read_video = getattr(torchvision.io, "read_video")  # noqa: B009 (absent in new releases)
    frames, _, _ = read_video(str(path), pts_unit="sec", output_format="TCHW")
    yield from frames


def _pyav_frames(path: Path) -> Iterator[torch.Tensor]:
    try:
        import av
    except ImportError:
        raise DataError(
            f"cannot read video {path}: this torchvision has no video I/O and PyAV is not "
            'installed (pip install "contrastlab[video]")'
        ) from None
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise DataError(f"cannot read video {path}: it has no video stream")
        for frame in container.decode(video=0):
            yield torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1)


def read_frames(path: Path, stride: int, max_frames: int, short_side: int) -> torch.Tensor:
    """uint8 (T, 3, H, W): every ``stride``-th frame, at most ``max_frames`` (0: all)."""
    decode = _torchvision_frames if hasattr(torchvision.io, "read_video") else _pyav_frames
    kept: list[torch.Tensor] = []
    try:
        for index, frame in enumerate(decode(path)):
            if index % stride:
                continue
            if min(frame.shape[-2:]) > short_side:
                frame = tvf.resize(frame, [short_side], antialias=True)
            kept.append(frame.contiguous())
            if max_frames and len(kept) == max_frames:
                break
    except DataError:
        raise
    except Exception as err:  # decoders raise their own error types
        reason = " ".join(str(err).split()) or type(err).__name__
        raise DataError(f"cannot read video {path}: {reason}") from err
    if not kept:
        raise DataError(f"video {path} has no frames to read")
    return torch.stack(kept)


class VideoSource(ArraySource):
    """The frames of one video, with ``sequence`` and ``frame`` metadata."""

    def __getitem__(self, index: int) -> Sample:
        sample = super().__getitem__(index)
        meta = {"sequence": 0.0, "frame": float(index % len(self))}
        return Sample(image=sample.image, label=sample.label, meta=meta)


def open_video(path: Path, options: Mapping[str, Any] | None = None) -> SourceSplits:
    """One unlabelled training split: the video's frames (options: stride, max_frames,
    short_side)."""
    opts = resolve_options(options, DEFAULTS, str(path))
    stride = int_option(opts, "stride", 1, str(path))
    max_frames = int_option(opts, "max_frames", 0, str(path))
    short_side = int_option(opts, "short_side", 8, str(path))
    frames = read_frames(path, stride, max_frames, short_side)
    return SourceSplits(train=VideoSource(str(path), frames, None, ()), test=None)
