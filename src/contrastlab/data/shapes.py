"""The built-in ``shapes`` source: rendered shapes with known, independent factors of variation.

Each RGB image shows one filled shape on a flat background, rendered natively at ``image_size``
and anti-aliased (4x4 supersampling, then averaging). Every factor is drawn independently per
image from its own distribution, so invariance and feature-suppression studies can vary or probe
one factor without the others moving with it; in particular the position range does not depend
on the size (the largest shape at the most extreme position still fits: 0.68 + 0.32 = 1). All
factors, the shape included (as a float), are in each sample's ``meta``.

========  =============  ========================================================================
factor    distribution   meaning
========  =============  ========================================================================
shape     U{0, ..., 5}   class label: circle, ring, triangle, square, cross, star
fg_hue    U[0, 1)        hue of the shape (HSV; foreground saturation fixed at 0.9)
fg_value  U[0.7, 1.0)    value (brightness) of the shape
bg_hue    U[0, 1)        hue of the background (HSV; background saturation fixed at 0.3)
bg_value  U[0.05, 0.45)  value of the background (always darker than the shape)
size      U[0.18, 0.32)  circumradius of the shape, as a fraction of the image side
x         U[0.32, 0.68)  centre column, as a fraction of the side from the left edge
y         U[0.32, 0.68)  centre row, as a fraction of the side from the top edge
rotation  U[0, 2π)       radians the shape is turned about its centre (from +x towards +y:
                         clockwise on screen, since rows grow downward)
========  =============  ========================================================================

Shapes, in units of the circumradius: circle (radius 1); ring (radii 0.5 to 1); equilateral
triangle and square (vertices on the unit circle); cross (two bars of half-width 0.3 reaching the
unit circle); five-pointed star (outer radius 1, inner radius 0.45). A pixel's colour is
``c * fg + (1 - c) * bg`` with ``c`` the fraction of it the shape covers.

Determinism: the factors of split ``s`` (0 = train, 1 = test) come from
``numpy.random.default_rng(SeedSequence([seed, s]))``, one row of 9 uniforms per image, so train
and test never share a stream, and image ``i`` depends only on (seed, split, i), not on the
split's length. Options: ``n_train`` (default 10000), ``n_test`` (default 2000; 0 means no test
split) and ``seed`` (default 0).
"""

from __future__ import annotations

import colorsys
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from contrastlab.data.options import int_option, resolve_options
from contrastlab.data.source import Sample, SourceSplits

CLASSES: tuple[str, ...] = ("circle", "ring", "triangle", "square", "cross", "star")
FACTORS: tuple[str, ...] = (
    "shape", "fg_hue", "fg_value", "bg_hue", "bg_value", "size", "x", "y", "rotation",
)  # fmt: skip
# Half-open ranges [low, high) of the continuous factors, mapped from uniforms on [0, 1).
RANGES: dict[str, tuple[float, float]] = {
    "fg_hue": (0.0, 1.0),
    "fg_value": (0.7, 1.0),
    "bg_hue": (0.0, 1.0),
    "bg_value": (0.05, 0.45),
    "size": (0.18, 0.32),
    "x": (0.32, 0.68),
    "y": (0.32, 0.68),
    "rotation": (0.0, 2.0 * math.pi),
}
FG_SATURATION = 0.9
BG_SATURATION = 0.3
SUPERSAMPLE = 4
DEFAULTS: dict[str, Any] = {"n_train": 10000, "n_test": 2000, "seed": 0}
SPLIT_IDS: dict[str, int] = {"train": 0, "test": 1}
_CHUNK_ELEMENTS = 1 << 22  # supersampled pixels per rendering chunk (bounds memory to ~100 MB)

_RING_INNER = 0.5
_CROSS_HALF_WIDTH = 0.3
_STAR_INNER = 0.45


def sample_factors(n: int, seed: int, split_id: int) -> dict[str, np.ndarray]:
    """Draw the factors of `n` images: float64 arrays keyed by FACTORS (shape holds 0.0..5.0)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, split_id]))
    uniforms = rng.random((n, len(FACTORS)))
    factors = {"shape": np.minimum(np.floor(uniforms[:, 0] * len(CLASSES)), len(CLASSES) - 1)}
    for column, key in enumerate(FACTORS[1:], start=1):
        low, high = RANGES[key]
        factors[key] = low + (high - low) * uniforms[:, column]
    return factors


def _polygon(u: np.ndarray, v: np.ndarray, sides: int, first_vertex: float) -> np.ndarray:
    """Inside a regular polygon with circumradius 1 and a vertex at angle `first_vertex`."""
    apothem = math.cos(math.pi / sides)
    inside = np.ones(u.shape, dtype=bool)
    for k in range(sides):
        normal = first_vertex + math.pi / sides + 2.0 * math.pi * k / sides
        inside &= u * np.float32(math.cos(normal)) + v * np.float32(math.sin(normal)) <= apothem
    return inside


def _circle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u * u + v * v <= 1.0


def _ring(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    r2 = u * u + v * v
    return (r2 <= 1.0) & (r2 >= _RING_INNER**2)


def _triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return _polygon(u, v, 3, -math.pi / 2)


def _square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(u), np.abs(v)) <= math.sqrt(0.5)


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    au, av = np.abs(u), np.abs(v)
    w = _CROSS_HALF_WIDTH
    length = math.sqrt(1.0 - w * w)
    return ((au <= length) & (av <= w)) | ((au <= w) & (av <= length))


def _star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # Fold onto half a point: qx = r cos(psi) and qy = r sin(psi), with psi the angle to the
    # nearest outer vertex (at most pi/5), so qx is the largest projection onto the 5 vertex
    # directions. Then test against the edge from the outer vertex A = (1, 0) to the inner vertex
    # B = r_in (cos pi/5, sin pi/5).
    qx = np.full(u.shape, -np.inf, dtype=np.float32)
    for k in range(5):
        angle = -math.pi / 2 + 2.0 * math.pi * k / 5
        np.maximum(qx, u * np.float32(math.cos(angle)) + v * np.float32(math.sin(angle)), out=qx)
    qy = np.sqrt(np.maximum(u * u + v * v - qx * qx, np.float32(0.0)))
    bx, by = _STAR_INNER * math.cos(math.pi / 5), _STAR_INNER * math.sin(math.pi / 5)
    return np.float32(bx - 1.0) * qy - np.float32(by) * (qx - 1.0) >= 0.0


_INSIDE: tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], ...] = (
    _circle, _ring, _triangle, _square, _cross, _star,
)  # fmt: skip


def _colours(hue: np.ndarray, saturation: float, value: np.ndarray) -> np.ndarray:
    pairs = zip(hue.tolist(), value.tolist(), strict=True)
    rgb = [colorsys.hsv_to_rgb(h, saturation, v) for h, v in pairs]
    return np.asarray(rgb, dtype=np.float32).reshape(-1, 3)


def _coverage(f: Mapping[str, np.ndarray], image_size: int) -> np.ndarray:
    """Fraction of each pixel the shape covers, float32 (m, S, S), for float32 factors `f`.

    Only a window around each shape is supersampled: a square of side 2 * max(size) (plus a
    pixel), placed per image and pasted into the otherwise empty coverage map.
    """
    m, k = len(f["shape"]), SUPERSAMPLE
    half = float(f["size"].max()) if m else 0.0
    win = min(image_size, math.ceil(2 * half * image_size) + 1)  # window side in pixels
    low = image_size - win
    left = np.clip(np.floor((f["x"] - half) * image_size), 0, low).astype(np.int64)
    top = np.clip(np.floor((f["y"] - half) * image_size), 0, low).astype(np.int64)
    fine = np.arange(win * k, dtype=np.float32) + np.float32(0.5)
    side = np.float32(image_size * k)
    inside = np.zeros((m, win * k, win * k), dtype=bool)
    for cls, test in enumerate(_INSIDE):
        sel = np.flatnonzero(f["shape"] == cls)
        if sel.size == 0:
            continue
        dx = (left[sel, None] * k + fine[None, :]) / side - f["x"][sel, None]  # (n, W)
        dy = (top[sel, None] * k + fine[None, :]) / side - f["y"][sel, None]
        cos, sin = np.cos(f["rotation"][sel]), np.sin(f["rotation"][sel])
        scale = np.float32(1.0) / f["size"][sel]
        ux, uy = (cos * scale)[:, None, None], (sin * scale)[:, None, None]
        u = dx[:, None, :] * ux + dy[:, :, None] * uy
        v = dy[:, :, None] * ux - dx[:, None, :] * uy
        inside[sel] = test(u, v)
    # Count covered sub-pixels per pixel; adding the k*k strided slices is far faster than a
    # sum over the sub-pixel axes.
    sub = inside.view(np.uint8).reshape(m, win, k, win, k)
    counts = np.zeros((m, win, win), dtype=np.uint8)
    for i, j in itertools.product(range(k), range(k)):
        counts += sub[:, :, i, :, j]
    cover = np.zeros((m, image_size, image_size), dtype=np.float32)
    rows = (top[:, None] + np.arange(win))[:, :, None]
    cols = (left[:, None] + np.arange(win))[:, None, :]
    cover[np.arange(m)[:, None, None], rows, cols] = counts.astype(np.float32) / np.float32(k * k)
    return cover


def render(factors: Mapping[str, np.ndarray], image_size: int) -> torch.Tensor:
    """Render images with the given factors (as from `sample_factors`): uint8 (N, 3, S, S).

    Vectorised in numpy over chunks of images (single-threaded, so its speed does not collapse
    when the cores are busy); S is `image_size`.
    """
    n = len(factors["shape"])
    f32 = {key: np.asarray(factors[key], dtype=np.float32) for key in FACTORS}
    fg = _colours(factors["fg_hue"], FG_SATURATION, factors["fg_value"])[:, :, None, None]
    bg = _colours(factors["bg_hue"], BG_SATURATION, factors["bg_value"])[:, :, None, None]
    out = np.empty((n, 3, image_size, image_size), dtype=np.uint8)
    chunk = max(1, _CHUNK_ELEMENTS // (image_size * SUPERSAMPLE) ** 2)
    for start in range(0, n, chunk):
        part = slice(start, min(n, start + chunk))
        cover = _coverage({key: values[part] for key, values in f32.items()}, image_size)
        cover = cover[:, None]  # multiples of 1/16: exactly 0 or 1 away from edges
        colour = cover * fg[part] + (np.float32(1.0) - cover) * bg[part]
        out[part] = np.rint(colour * np.float32(255.0))
    return torch.from_numpy(out)


class ShapesSource:
    """Images rendered from given factors (a split of `shapes`, or of `data.sequences`), once on
    first use; the label is the shape, every factor is in the sample's meta."""

    def __init__(self, name: str, factors: dict[str, np.ndarray], *, image_size: int) -> None:
        self.name = name
        self.classes: Sequence[str] = CLASSES
        self.image_size = image_size
        self.factors = factors
        self._labels = self.factors["shape"].astype(np.int64)
        self._images: torch.Tensor | None = None

    @property
    def images(self) -> torch.Tensor:
        """All images of the split, uint8 (N, 3, S, S), rendered on first use and cached."""
        if self._images is None:
            self._images = render(self.factors, self.image_size)
        return self._images

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> Sample:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {self.name} ({len(self)} samples)")
        meta = {key: float(values[index]) for key, values in self.factors.items()}
        return Sample(image=self.images[index], label=int(self._labels[index]), meta=meta)


def open_shapes(*, image_size: int = 32, options: Mapping[str, Any] | None = None) -> SourceSplits:
    """Fixed train and test splits of the shapes data (options: n_train, n_test, seed)."""
    opts = resolve_options(options, DEFAULTS, "shapes")
    n_train = int_option(opts, "n_train", 1, "shapes")
    n_test = int_option(opts, "n_test", 0, "shapes")
    seed = int_option(opts, "seed", 0, "shapes")
    splits = {
        split: ShapesSource(
            f"shapes:{split}", sample_factors(n, seed, SPLIT_IDS[split]), image_size=image_size
        )
        for split, n in (("train", n_train), ("test", n_test))
        if n
    }
    return SourceSplits(train=splits["train"], test=splits.get("test"))
