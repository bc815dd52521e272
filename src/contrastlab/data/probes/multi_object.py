"""Multi-object canvases and their object-centric crops (Chen, Luo & Li, "Intriguing Properties
of Contrastive Losses", NeurIPS 2021: the multi-object study of section 3 [MEM, UNVERIFIED] and
the "Modified MultiDigits" set, [V-page] project page).

Each canvas holds k objects on a black background at non-overlapping places, and every object's
class is kept, so one can ask whether a global, instance-level representation still encodes each
object (linear probes per slot) and how a dominant object suppresses the others. Object 0 is the
dominant one: its square box has side ``round(object_size * size_ratio)`` pixels, the other k - 1
have side ``object_size`` (Modified MultiDigits varies one digit's size while the other stays).

Objects are either

* rendered from the built-in ``shapes`` generator (`contrastlab.data.shapes.render`): a shape of
  a uniform class, colour (hue U[0, 1), value from the shapes ranges) and rotation, centred in
  its box with circumradius ``OBJECT_RADIUS`` of the box side, on black; or
* pasted from given labelled images (e.g. digits), resized to the box (bilinear, antialiased).

Objects are max-merged onto the canvas. Everything about canvas i (classes, styles, places)
comes from ``numpy.random.default_rng([seed, i])``, so a canvas depends only on (seed, i); places
are drawn uniformly and redrawn until no box overlaps an earlier one.

`object_crops` gives the object-centric counterpart: one crop per object, a square around its box
(plus a margin), resized to a common size, for the object-centric vs scene-centric comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as tvf

from contrastlab.core.errors import DataError
from contrastlab.data import shapes
from contrastlab.data.tensors import ImageTensors

__all__ = [
    "OBJECT_RADIUS",
    "MultiObject",
    "multi_object_canvases",
    "object_crops",
    "object_sides",
]

OBJECT_RADIUS = 0.45  # a rendered shape's circumradius, as a fraction of its box side
_PLACEMENT_TRIES = 1000


@dataclass
class MultiObject:
    """Canvases with k objects each, the objects' classes and boxes."""

    data: ImageTensors  # labels are the dominant object's (slot 0) classes
    object_labels: Tensor  # int64 (N, k)
    boxes: Tensor  # int64 (N, k, 4): top, left, bottom, right (bottom and right exclusive)
    size_ratio: float


def object_sides(k: int, object_size: int, size_ratio: float) -> list[int]:
    """Box sides in pixels: the dominant object's ``round(object_size * size_ratio)``, then k - 1
    of ``object_size``."""
    if k < 1:
        raise DataError(f"objects per canvas must be at least 1, got {k}")
    if object_size < 1:
        raise DataError(f"object size must be at least 1 pixel, got {object_size}")
    dominant = round(object_size * size_ratio)
    if not size_ratio > 0 or dominant < 1:
        raise DataError(
            f"size ratio must give the dominant object at least 1 pixel, got {size_ratio}"
        )
    return [dominant] + [object_size] * (k - 1)


def _place(rng: np.random.Generator, sides: list[int], image_size: int) -> list[tuple[int, ...]]:
    """Non-overlapping boxes (top, left, bottom, right) for the sides, drawn in order."""
    boxes: list[tuple[int, ...]] = []
    for side in sides:
        for _ in range(_PLACEMENT_TRIES):
            top, left = (int(v) for v in rng.integers(0, image_size - side + 1, size=2))
            box = (top, left, top + side, left + side)
            if all(
                box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1] for b in boxes
            ):
                boxes.append(box)
                break
        else:
            raise DataError(
                f"cannot place objects of sides {sides} without overlap on a {image_size}-pixel "
                "canvas; use a larger image size, fewer or smaller objects"
            )
    return boxes


def _render_shapes(classes: np.ndarray, styles: np.ndarray, side: int) -> Tensor:
    """Shapes of the given classes on black, uint8 (m, 3, side, side); styles are uniforms
    (hue, value, rotation) per object."""
    low, high = shapes.RANGES["fg_value"]
    m = len(classes)
    factors = {
        "shape": classes.astype(np.float64),
        "fg_hue": styles[:, 0],
        "fg_value": low + (high - low) * styles[:, 1],
        "bg_hue": np.zeros(m),
        "bg_value": np.zeros(m),
        "size": np.full(m, OBJECT_RADIUS),
        "x": np.full(m, 0.5),
        "y": np.full(m, 0.5),
        "rotation": 2.0 * np.pi * styles[:, 2],
    }
    return shapes.render(factors, side)


def multi_object_canvases(
    n: int,
    *,
    k: int,
    image_size: int,
    object_size: int,
    size_ratio: float = 1.0,
    seed: int = 0,
    objects: ImageTensors | None = None,
) -> MultiObject:
    """``n`` canvases (uint8, S = ``image_size``) with ``k`` objects each (see the module doc).

    With ``objects`` (labelled, uint8 (M, C, H, W)) the objects are its images, picked uniformly
    with their labels and classes; without, they are rendered shapes (3 channels, shapes classes).
    The canvas labels are the dominant object's; each slot's labels are also in
    ``meta["object{j}"]`` (float64) so they survive splits and subsets.
    """
    if n < 1:
        raise DataError(f"number of canvases must be at least 1, got {n}")
    sides = object_sides(k, object_size, size_ratio)
    if sides[0] > image_size or object_size > image_size:
        raise DataError(f"object sides {sides} must not exceed the image size {image_size}")
    if objects is not None and not (objects.labelled and objects.images.ndim == 4 and len(objects)):
        raise DataError(f"objects to paste must be labelled images (N, C, H, W): {objects.name}")
    pool = len(shapes.CLASSES) if objects is None else len(objects)
    picks = np.empty((n, k), dtype=np.int64)
    styles = np.empty((n, k, 3))
    boxes = np.empty((n, k, 4), dtype=np.int64)
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        picks[i] = rng.integers(0, pool, size=k)
        styles[i] = rng.random((k, 3))
        boxes[i] = _place(rng, sides, image_size)
    channels = 3 if objects is None else int(objects.images.shape[1])
    canvases = torch.zeros((n, channels, image_size, image_size), dtype=torch.uint8)
    for slot in range(k):
        side = sides[slot]
        if objects is None:
            patches = _render_shapes(picks[:, slot], styles[:, slot], side)
        else:
            chosen = objects.images[torch.from_numpy(picks[:, slot])]
            patches = tvf.resize(chosen, [side, side], antialias=True)
        for i in range(n):
            top, left = int(boxes[i, slot, 0]), int(boxes[i, slot, 1])
            region = canvases[i, :, top : top + side, left : left + side]
            region.copy_(torch.maximum(region, patches[i]))
    if objects is None:
        labels, classes = torch.from_numpy(picks), list(shapes.CLASSES)
    else:
        labels, classes = objects.labels[torch.from_numpy(picks)], list(objects.classes)
    meta = {f"object{j}": labels[:, j].to(torch.float64) for j in range(k)}
    source = "shapes" if objects is None else objects.name
    data = ImageTensors(
        images=canvases,
        labels=labels[:, 0].clone(),
        meta=meta,
        classes=classes,
        name=f"multiobject:{source}:k{k}:ratio{size_ratio:g}",
    )
    return MultiObject(data, labels, torch.from_numpy(boxes), float(size_ratio))


def _crop_square(box: list[int], margin: float, image_size: int) -> tuple[int, int, int]:
    """(top, left, side) of the square crop around a box: the box grown by ``margin`` times its
    side on every edge, shifted (not cut) to stay on the canvas, at most the whole canvas."""
    top, left, bottom, _ = box
    side = bottom - top
    grow = round(margin * side)
    crop = min(image_size, side + 2 * grow)
    row = min(max(top - grow, 0), image_size - crop)
    col = min(max(left - grow, 0), image_size - crop)
    return row, col, crop


def object_crops(canvases: MultiObject, *, size: int, margin: float = 0.0) -> ImageTensors:
    """One object-centric crop per object, resized to ``size``: N * k images labelled by object.

    Row i * k + j is object j of canvas i. The crop is the square `_crop_square` (which always
    contains the object's box); its place is in ``meta`` as ``canvas``, ``slot``, ``crop_top``,
    ``crop_left`` and ``crop_side`` (float64).
    """
    if size < 1:
        raise DataError(f"crop size must be at least 1 pixel, got {size}")
    if margin < 0:
        raise DataError(f"crop margin must be non-negative, got {margin}")
    images = canvases.data.images
    n, k = canvases.object_labels.shape
    image_size = int(images.shape[-1])
    places = [
        _crop_square(canvases.boxes[i, j].tolist(), margin, image_size)
        for i in range(n)
        for j in range(k)
    ]
    crops = torch.empty((n * k, images.shape[1], size, size), dtype=torch.uint8)
    for row, (top, left, side) in enumerate(places):
        patch = images[row // k, :, top : top + side, left : left + side]
        crops[row] = patch if side == size else tvf.resize(patch, [size, size], antialias=True)
    place = torch.tensor(places, dtype=torch.float64).reshape(n * k, 3)
    index = torch.arange(n * k)
    meta = {
        "canvas": (index // k).to(torch.float64),
        "slot": (index % k).to(torch.float64),
        "crop_top": place[:, 0],
        "crop_left": place[:, 1],
        "crop_side": place[:, 2],
    }
    return ImageTensors(
        images=crops,
        labels=canvases.object_labels.reshape(-1).clone(),
        meta=meta,
        classes=list(canvases.data.classes),
        name=f"{canvases.data.name}:crops",
    )
