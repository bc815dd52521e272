"""The built-in ``sequences`` source: short videos of one `shapes` object moving, turning and
changing illumination over time, for temporal positives (Frame Temporal Invariance).

Each sequence shows one shape (its class label) with a fixed hue and size. Over its ``frames``
frames, the centre moves at a constant velocity and bounces off the edges of the `shapes` position
range [0.32, 0.68); the shape turns at a constant angular velocity (up to 0.3 rad per frame); the
foreground and background brightness (``fg_value``, ``bg_value``) swing sinusoidally within the
`shapes` ranges (one period per sequence, random phase): the viewpoint, deformation-free motion
and illumination changes a video of one object would have. Frames are rendered by
`shapes.render`, so every factor is in each sample's ``meta``, with ``sequence`` (its index in the
split) and ``frame`` (0..frames-1).

Determinism: sequence parameters of split ``s`` come from
``numpy.random.default_rng(SeedSequence([seed, 100 + s]))`` (train 0, test 1). Options:
``n_sequences`` (default 600), ``n_test_sequences`` (default 100; 0 = no test split), ``frames``
(default 16) and ``seed`` (default 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from contrastlab.data.options import int_option, resolve_options
from contrastlab.data.shapes import CLASSES, RANGES, ShapesSource
from contrastlab.data.source import SourceSplits

DEFAULTS: dict[str, Any] = {"n_sequences": 600, "n_test_sequences": 100, "frames": 16, "seed": 0}
MAX_SPEED = 0.03  # fraction of the side per frame
MAX_SPIN = 0.3  # radians per frame


def _bounce(
    start: np.ndarray, step: np.ndarray, t: np.ndarray, low: float, high: float
) -> np.ndarray:
    """Positions start + step * t reflected into [low, high) (a ball bouncing off the walls)."""
    span = high - low
    raw = (start[:, None] - low + step[:, None] * t[None, :]) % (2 * span)
    return low + np.where(raw < span, raw, 2 * span - raw).clip(0, span * (1 - 1e-9))


def sequence_factors(n: int, frames: int, seed: int, split_id: int) -> dict[str, np.ndarray]:
    """Factors of every frame (n * frames rows, sequence-major), with ``sequence`` and ``frame``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 100 + split_id]))
    u = rng.random((n, 10))
    t = np.arange(frames, dtype=np.float64)

    def span(key: str, column: int) -> np.ndarray:
        low, high = RANGES[key]
        return low + (high - low) * u[:, column]

    shape = np.minimum(np.floor(u[:, 0] * len(CLASSES)), len(CLASSES) - 1)
    speed, heading = MAX_SPEED * u[:, 1], 2 * math.pi * u[:, 2]
    x_low, x_high = RANGES["x"]
    phase = 2 * math.pi * u[:, 9][:, None] + 2 * math.pi * t[None, :] / frames
    swing = 0.5 + 0.5 * np.sin(phase)  # in [0, 1]
    fg_low, fg_high = RANGES["fg_value"]
    bg_low, bg_high = RANGES["bg_value"]
    per_frame = {
        "shape": np.repeat(shape[:, None], frames, axis=1),
        "fg_hue": np.repeat(span("fg_hue", 3)[:, None], frames, axis=1),
        "fg_value": fg_low + (fg_high - fg_low) * 0.999 * swing,
        "bg_hue": np.repeat(span("bg_hue", 4)[:, None], frames, axis=1),
        "bg_value": bg_low + (bg_high - bg_low) * 0.999 * (1 - swing),
        "size": np.repeat(span("size", 5)[:, None], frames, axis=1),
        "x": _bounce(span("x", 6), speed * np.cos(heading), t, x_low, x_high),
        "y": _bounce(span("y", 7), speed * np.sin(heading), t, x_low, x_high),
        "rotation": (span("rotation", 8)[:, None] + MAX_SPIN * (2 * u[:, 1:2] - 1) * t)
        % (2 * math.pi),
        "sequence": np.repeat(np.arange(n, dtype=np.float64)[:, None], frames, axis=1),
        "frame": np.repeat(t[None, :], n, axis=0),
    }
    return {key: value.reshape(-1) for key, value in per_frame.items()}


def open_sequences(
    *, image_size: int = 32, options: Mapping[str, Any] | None = None
) -> SourceSplits:
    """Train and test sequences (options: n_sequences, n_test_sequences, frames, seed)."""
    opts = resolve_options(options, DEFAULTS, "sequences")
    n_train = int_option(opts, "n_sequences", 1, "sequences")
    n_test = int_option(opts, "n_test_sequences", 0, "sequences")
    frames = int_option(opts, "frames", 1, "sequences")
    seed = int_option(opts, "seed", 0, "sequences")
    splits = {
        split: ShapesSource(
            f"sequences:{split}", sequence_factors(n, frames, seed, split_id), image_size=image_size
        )
        for split, n, split_id in (("train", n_train, 0), ("test", n_test, 1))
        if n
    }
    return SourceSplits(train=splits["train"], test=splits.get("test"))
