"""Probe data sets: wrappers over decoded `ImageTensors` that plant or destroy a feature.

* `block_shuffle`: one fixed permutation of b x b blocks for every image (Neyshabur et al. 2020).
* `randbit`: n random bits as constant channels appended after augmentation (Chen et al. 2021).
* `digit_overlay`: digits from a pool of N max-merged onto images, both labels kept (Chen et al.).
* `multi_object`: canvases with k labelled objects, a dominant-size knob, object-centric crops.
* `random_labels`: the training labels replaced by uniform random classes (Maennel et al. 2020).

Each is deterministic in its seed and in the image index, never in the batch an image is in.
"""

from __future__ import annotations

from contrastlab.data.probes.block_shuffle import (
    block_permutation,
    block_shuffle,
    block_shuffle_tensors,
    inverse_permutation,
)
from contrastlab.data.probes.digit_overlay import (
    GRID_3X3,
    DigitOverlay,
    DigitPool,
    digit_pool,
    digit_task,
    grid_corners,
    overlay_digits,
)
from contrastlab.data.probes.multi_object import (
    MultiObject,
    multi_object_canvases,
    object_crops,
    object_sides,
)
from contrastlab.data.probes.randbit import (
    RandBitTensors,
    RandBitViews,
    append_randbits,
    decode_randbits,
    randbit_labels,
    randbit_planes,
)

__all__ = [
    "GRID_3X3",
    "DigitOverlay",
    "DigitPool",
    "MultiObject",
    "RandBitTensors",
    "RandBitViews",
    "append_randbits",
    "block_permutation",
    "block_shuffle",
    "block_shuffle_tensors",
    "decode_randbits",
    "digit_pool",
    "digit_task",
    "grid_corners",
    "inverse_permutation",
    "multi_object_canvases",
    "object_crops",
    "object_sides",
    "overlay_digits",
    "randbit_labels",
    "randbit_planes",
]
