"""Frame sequences: the built-in generated sequences, folders of frame folders, video files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from contrastlab.core.errors import DataError
from contrastlab.data import materialize, open_source
from contrastlab.data.sequences import MAX_SPEED, sequence_factors
from contrastlab.data.shapes import RANGES


def test_generated_sequences_keep_the_object_and_move_it_smoothly() -> None:
    f = sequence_factors(50, 12, seed=0, split_id=0)
    seq, frame = f["sequence"].reshape(50, 12), f["frame"].reshape(50, 12)
    assert (seq == np.arange(50)[:, None]).all() and (frame == np.arange(12)).all()
    for key in ("shape", "fg_hue", "bg_hue", "size"):  # fixed within a sequence
        values = f[key].reshape(50, 12)
        assert (values == values[:, :1]).all(), key
    for key in ("x", "y", "fg_value", "bg_value"):  # inside the shapes ranges, so shapes fit
        low, high = RANGES[key]
        assert f[key].min() >= low and f[key].max() < high, key
    step = np.hypot(np.diff(f["x"].reshape(50, 12)), np.diff(f["y"].reshape(50, 12)))
    assert step.max() <= MAX_SPEED * math.sqrt(2) + 1e-12  # bounces only shorten a step
    assert np.diff(f["fg_value"].reshape(50, 12)).std() > 0  # the illumination changes


def test_sequences_source_splits_labels_and_determinism() -> None:
    splits = open_source("sequences", image_size=16, options={"n_sequences": 4, "frames": 5})
    assert splits.test is not None and len(splits.train) == 20 and len(splits.test) == 500
    a = materialize(splits.train, image_size=16)
    b = materialize(
        open_source("sequences", image_size=16, options={"n_sequences": 4, "frames": 5}).train,
        image_size=16,
    )
    assert torch.equal(a.images, b.images)
    assert torch.equal(a.labels, torch.from_numpy(a.meta["shape"].numpy().astype(np.int64)))
    assert a.meta["frame"].tolist()[:6] == [0, 1, 2, 3, 4, 0]
    with pytest.raises(DataError, match="n_sequences"):
        open_source("sequences", options={"n_sequences": 0})


def write_frames(root: Path, layout: dict[str, int]) -> None:
    for folder, count in layout.items():
        (root / folder).mkdir(parents=True)
        for i in range(count):
            shade = (10 * i) % 256
            Image.new("RGB", (6, 6), (shade, 0, 0)).save(root / folder / f"{i:03d}.png")


def test_frame_folders_give_sequences_frames_and_class_labels(tmp_path: Path) -> None:
    write_frames(tmp_path, {"cat/clip_b": 3, "cat/clip_a": 2, "dog/clip_c": 4})
    splits = open_source(str(tmp_path), options={"layout": "frames"})
    assert splits.test is None and list(splits.train.classes) == ["cat", "dog"]
    data = materialize(splits.train, image_size=8)
    assert data.meta["sequence"].tolist() == [0, 0, 1, 1, 1, 2, 2, 2, 2]  # clip_a, clip_b, clip_c
    assert data.meta["frame"].tolist() == [0, 1, 0, 1, 2, 0, 1, 2, 3]
    assert data.labels.tolist() == [0] * 5 + [1] * 4


def test_frame_folders_unlabelled_and_bad_layouts(tmp_path: Path) -> None:
    write_frames(tmp_path / "flat", {"one": 2, "two": 2})
    data = materialize(
        open_source(str(tmp_path / "flat"), options={"layout": "frames"}).train, image_size=8
    )
    assert data.labels.tolist() == [-1] * 4 and data.meta["sequence"].tolist() == [0, 0, 1, 1]
    Image.new("RGB", (6, 6)).save(tmp_path / "flat" / "stray.png")
    with pytest.raises(DataError, match="not a folder of frame folders"):
        open_source(str(tmp_path / "flat"), options={"layout": "frames"})
    with pytest.raises(DataError, match="layout='scenes'"):
        open_source(str(tmp_path / "flat"), options={"layout": "scenes"})


def test_video_file_is_one_sequence(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    path = tmp_path / "clip.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for i in range(12):
            frame = np.zeros((24, 32, 3), dtype=np.uint8)
            frame[:, : 2 + 2 * i] = 255  # a white band growing to the right
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    splits = open_source(str(path), options={"stride": 2, "short_side": 12})
    data = materialize(splits.train, image_size=12)
    assert len(data) == 6 and data.meta["frame"].tolist() == [0, 1, 2, 3, 4, 5]
    assert data.meta["sequence"].tolist() == [0.0] * 6 and data.labels.tolist() == [-1] * 6
    brightness = data.images.float().mean(dim=(1, 2, 3))
    assert (brightness.diff() > 0).all()  # frames in time order (the band grows)
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(DataError, match=r"broken\.mp4"):
        open_source(str(tmp_path / "broken.mp4"))
