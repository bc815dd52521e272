"""Probe data sets from a recipe: ``data.probe`` and ``data.probe_options`` applied to decoded data.

`probe_spec` checks a probe's options (unknown keys, types, ranges) and fills in the defaults;
the recipe calls it when it is validated, so a bad option fails before anything is decoded.
`apply_probe` turns the decoded training and held-out `ImageTensors` into the probe's:

* ``blockshuffle`` (``block``, ``seed``): every image of both splits shuffled by ONE permutation
  of its ``block`` x ``block`` blocks, drawn from ``seed``.
* ``randbit`` (``bits``, ``seed``): ``bits`` constant planes appended as the last channels, the
  training split's from ``seed``, the held-out split's from another seed (`split_seed`), so that
  held-out image i does not carry the bits of training image i. The method's view maker and the
  encoder are adapted where they are built (`contrastlab.methods.parts.build_views`,
  `contrastlab.models.encoder.build_encoder`, through `DataConfig.encoder_inputs`).
* ``digits`` (``pool``, ``digit_size``, ``idx``, ``seed``): one digit of a pool of the first
  ``pool`` digits max-merged at the 3x3 grid of every image; the same pool for both splits, the
  digit of each image drawn per split (`split_seed`).
* ``multiobject`` (``k``, ``size_ratio``, ``object_size``, ``objects``, ``seed``): every image
  replaced by a canvas of ``k`` objects, pasted from the split's own labelled images
  (``objects: source``) or rendered by the built-in shapes generator (``objects: shapes``);
  canvases drawn per split (`split_seed`). The labels become the dominant object's. With
  ``crops: true`` the *training* split becomes the object-centric crops of its canvases (one
  per object, labelled by it, resized to the image size), the held-out split stays canvases:
  object-centric against scene-centric training, judged on the same scenes (Purushwalkam &
  Gupta 2020).
* ``randomlabels`` (``fraction``, ``seed``): the *training* split's labels replaced by uniform
  random classes (``fraction`` of them, 1 = all), drawn from ``seed``; the true ones stay in
  ``meta["true_label"]``. The held-out split keeps its true labels: evaluations then ask what a
  representation learnt from random labels says about the real classes (Maennel et al. 2020),
  where random held-out labels would put every score at chance by construction.

The secondary labels stay in ``meta`` (float64, one per image), so they follow the images through
subsets: ``randbit`` (the bits' integer), ``digit_label`` and ``digit_id``, ``object0`` ...
``object{k-1}``, ``true_label``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torchvision.transforms.v2 import functional as tvf

from contrastlab.core.checks import did_you_mean
from contrastlab.core.errors import ConfigError, DataError
from contrastlab.data.probes.block_shuffle import block_permutation, block_shuffle_tensors
from contrastlab.data.probes.digit_overlay import GRID_3X3, digit_pool, overlay_digits
from contrastlab.data.probes.multi_object import (
    multi_object_canvases,
    object_crops,
    object_sides,
)
from contrastlab.data.probes.randbit import MAX_BITS, append_randbits
from contrastlab.data.probes.random_labels import randomize_labels
from contrastlab.data.tensors import ImageTensors

__all__ = [
    "PROBES",
    "ProbeSpec",
    "Probed",
    "apply_probe",
    "probe_spec",
    "split_seed",
]

PROBES = ("blockshuffle", "randbit", "digits", "multiobject", "randomlabels")
OBJECT_KINDS = ("source", "shapes")
HELD_OUT_SEED_OFFSET = 1_000_003  # the held-out split's seed, for probes that draw per image

_REQUIRED = object()
_KEY = "data.probe_options"

# probe -> option -> (type, default); _REQUIRED: no default, None: null allowed (a derived default)
_OPTIONS: dict[str, dict[str, tuple[type, Any]]] = {
    "blockshuffle": {"block": (int, _REQUIRED), "seed": (int, 0)},
    "randbit": {"bits": (int, _REQUIRED), "seed": (int, 0)},
    "digits": {
        "pool": (int, _REQUIRED),
        "digit_size": (int, None),
        "idx": (str, None),
        "seed": (int, 0),
    },
    "multiobject": {
        "k": (int, 2),
        "size_ratio": (float, 1.0),
        "object_size": (int, None),
        "objects": (str, "source"),
        "crops": (bool, False),
        "seed": (int, 0),
    },
    "randomlabels": {"fraction": (float, 1.0), "seed": (int, 0)},
}


@dataclass(frozen=True)
class ProbeSpec:
    """A probe and its complete, checked options (defaults filled in, derived ones computed)."""

    probe: str
    options: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.options[key]


@dataclass
class Probed:
    """The probe's training and held-out data, and what was drawn to make them."""

    train: ImageTensors
    test: ImageTensors | None
    details: dict[str, Any] = field(default_factory=dict)  # e.g. the permutation, the pool


def split_seed(seed: int, held_out: bool) -> int:
    """The seed of a split, for probes that draw per image: ``seed`` for the training split,
    ``seed + HELD_OUT_SEED_OFFSET`` for the held-out one."""
    return seed + HELD_OUT_SEED_OFFSET if held_out else seed


def _check(ok: bool, key: str, rule: str, value: object) -> None:
    if not ok:
        raise ConfigError(f"{_KEY}.{key} must be {rule}, got {value!r}")


def _typed(kind: type, value: Any, key: str) -> Any:
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is str and isinstance(value, str):
        return value
    if kind is bool and isinstance(value, bool):
        return value
    name = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[kind]
    raise ConfigError(f"{_KEY}.{key} must be {name}, got {value!r}")


def probe_spec(probe: str, options: Mapping[str, Any], *, image_size: int) -> ProbeSpec:
    """Check ``options`` for ``probe`` on images of ``image_size`` pixels and fill in defaults.

    ConfigError (one line, naming ``data.probe_options.KEY``) for an unknown probe or key, a
    missing required key, a value of the wrong type or out of range.
    """
    if probe not in _OPTIONS:
        raise ConfigError(
            f"data.probe must be one of {', '.join(PROBES)}; "
            f"got {probe!r}{did_you_mean(probe, list(PROBES))}"
        )
    known = _OPTIONS[probe]
    for key in options:
        if key not in known:
            raise ConfigError(
                f"unknown key '{_KEY}.{key}'{did_you_mean(str(key), list(known))} for data.probe "
                f"{probe}; valid keys: {', '.join(known)}"
            )
    out: dict[str, Any] = {}
    for key, (kind, default) in known.items():
        if key not in options:
            if default is _REQUIRED:
                raise ConfigError(
                    f"data.probe {probe} needs {_KEY}.{key} (valid keys: {', '.join(known)})"
                )
            out[key] = default
        elif options[key] is None and default is None:
            out[key] = None
        else:
            out[key] = _typed(kind, options[key], key)
    _check(out["seed"] >= 0, "seed", "a non-negative integer", out["seed"])
    size = image_size
    if probe == "blockshuffle":
        divisors = [b for b in range(1, size + 1) if size % b == 0]
        block = out["block"]
        rule = f"a divisor of data.image_size {size} ({', '.join(map(str, divisors))})"
        _check(block in divisors, "block", rule, block)
    elif probe == "randbit":
        _check(1 <= out["bits"] <= MAX_BITS, "bits", f"in 1..{MAX_BITS}", out["bits"])
    elif probe == "randomlabels":
        _check(0.0 <= out["fraction"] <= 1.0, "fraction", "in [0, 1]", out["fraction"])
    elif probe == "digits":
        _check(out["pool"] >= 1, "pool", "at least 1", out["pool"])
        largest = size - max(max(round(r * size), round(c * size)) for r, c in GRID_3X3)
        if out["digit_size"] is None:
            out["digit_size"] = largest
        rule = f"null or in 1..{largest} (to fit the 3x3 grid of a {size}-pixel image)"
        _check(1 <= out["digit_size"] <= largest, "digit_size", rule, out["digit_size"])
    else:
        _check_multiobject(out, size)
    return ProbeSpec(probe, out)


def _check_multiobject(out: dict[str, Any], size: int) -> None:
    k, ratio = out["k"], out["size_ratio"]
    _check(k >= 1, "k", "at least 1", k)
    _check(ratio > 0, "size_ratio", "> 0", ratio)
    kinds = list(OBJECT_KINDS)
    if out["objects"] not in kinds:
        raise ConfigError(
            f"{_KEY}.objects must be one of {', '.join(kinds)}; got {out['objects']!r}"
            f"{did_you_mean(out['objects'], kinds)}"
        )
    if out["object_size"] is None:  # room for the boxes side by side, with space to move
        out["object_size"] = max(1, int(size / (ratio + k)))
    object_size = out["object_size"]
    _check(1 <= object_size <= size, "object_size", f"null or in 1..{size}", object_size)
    try:
        sides = object_sides(k, object_size, ratio)
    except DataError as exc:
        raise ConfigError(f"{_KEY}: {exc}") from None
    _check(
        sides[0] <= size,
        "size_ratio",
        f"small enough for the dominant object ({object_size} x ratio pixels) to fit "
        f"data.image_size {size}",
        ratio,
    )


def apply_probe(
    train: ImageTensors, test: ImageTensors | None, probe: str, options: Mapping[str, Any]
) -> Probed:
    """The probe's version of the decoded ``train`` and ``test`` splits (see the module doc).

    The image size and channels are the decoded images'. ConfigError for bad options, DataError
    for data the probe cannot use (e.g. unlabelled objects for ``multiobject``).
    """
    size = int(train.images.shape[-1])
    spec = probe_spec(probe, options, image_size=size)
    details: dict[str, Any] = {"probe": probe, "options": dict(spec.options)}
    seed = spec["seed"]

    def both(fn: Any) -> tuple[ImageTensors, ImageTensors | None]:
        return fn(train, False), None if test is None else fn(test, True)

    if probe == "blockshuffle":
        block = spec["block"]
        details["permutation"] = block_permutation(size, block, seed)
        new_train, new_test = both(lambda data, _: block_shuffle_tensors(data, block, seed))
    elif probe == "randbit":
        bits = spec["bits"]
        new_train, new_test = both(
            lambda data, held: append_randbits(data, bits, split_seed(seed, held)).data
        )
    elif probe == "digits":
        pool = digit_pool(spec["pool"], spec["idx"])
        details["digit_classes"] = list(pool.classes)
        details["pool_labels"] = pool.labels.clone()
        new_train, new_test = both(
            lambda data, held: (
                overlay_digits(
                    data, pool, digit_size=spec["digit_size"], seed=split_seed(seed, held)
                ).data
            )
        )
    elif probe == "randomlabels":  # the held-out split keeps its true labels (module doc)
        new_train = randomize_labels(train, fraction=spec["fraction"], seed=seed)
        new_test = test
    else:
        new_train, new_test = both(lambda data, held: _canvases(data, spec, held))
        details["classes"] = list(new_train.classes)
    return Probed(new_train, new_test, details)


def _canvases(data: ImageTensors, spec: ProbeSpec, held_out: bool) -> ImageTensors:
    """As many multi-object canvases as ``data`` has images, their objects from ``data``."""
    from_source = spec["objects"] == "source"
    if from_source and not data.labelled:
        raise DataError(
            f"data.probe multiobject pastes labelled objects, but {data.name} has no labels; "
            f"use labelled data or {_KEY}.objects: shapes (the built-in shapes renderer)"
        )
    size, channels = int(data.images.shape[-1]), int(data.images.shape[1])
    canvases = multi_object_canvases(
        len(data),
        k=spec["k"],
        image_size=size,
        object_size=spec["object_size"],
        size_ratio=spec["size_ratio"],
        seed=split_seed(spec["seed"], held_out),
        objects=data if from_source else None,
    )
    if not from_source and channels == 1:  # the renderer draws RGB; the recipe's images are grey
        canvases.data.images = tvf.rgb_to_grayscale(canvases.data.images)
    made = object_crops(canvases, size=size) if spec["crops"] and not held_out else canvases.data
    if not from_source:
        made.name = f"{made.name}:for:{data.name}"  # rendered, one canvas per image
    return made
