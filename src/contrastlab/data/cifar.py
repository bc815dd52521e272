"""CIFAR-10 / CIFAR-100 "python version" pickle batches (Krizhevsky 2009).

Accepted: the official ``cifar-10-batches-py`` folder (``data_batch_1`` .. ``data_batch_5``,
``test_batch``, and ``batches.meta`` with ``label_names``); CIFAR-100's ``cifar-100-python``
folder (``train``, ``test``, and ``meta`` with ``fine_label_names`` / ``coarse_label_names``); a
single batch file (class names from a ``batches.meta`` or ``meta`` file beside it, else
"0".."K-1"); or the official ``.tar.gz`` holding either folder (read in memory by
`data.archive`). A batch is a dict with ``data``, uint8 rows of 3072 bytes holding the red, green
and blue 32x32 planes in turn (each row-major), and ``labels`` (CIFAR-10) or ``fine_labels`` /
``coarse_labels`` (CIFAR-100). The option ``label_kind`` ("fine", the default, or "coarse")
chooses CIFAR-100's label set. When only the test batch is present, it becomes the train split
and there is no test split.

SECURITY: ``pickle.loads`` would run any code a pickle names, so batches are read with
`data.safe_pickle.load_data_pickle` (Python 2 strings as bytes, as the dataset's authors suggest),
which admits only the NumPy array, dtype and scalar constructors a batch needs and refuses any other
callable by name before importing it: a file that is not plain data is refused, and nothing in it
runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from contrastlab.core.errors import DataError
from contrastlab.data.memory import ArraySource, numbered_classes
from contrastlab.data.options import choice_option, resolve_options
from contrastlab.data.safe_pickle import UnsafePickleError, load_data_pickle
from contrastlab.data.source import SourceSplits

SIDE = 32
ROW_BYTES = 3 * SIDE * SIDE
LABEL_KINDS: tuple[str, ...] = ("fine", "coarse")
DEFAULTS: dict[str, Any] = {"label_kind": "fine"}
_TRAIN_BATCH = re.compile(r"^data_batch_(\d+)$")
_CIFAR10_META = "batches.meta"
_CIFAR100_FILES = ("train", "test", "meta")
_PICKLE_PROTO = 0x80

Batch = tuple[np.ndarray, np.ndarray]  # images (N, 3, 32, 32), labels (N,)
Reader = Callable[[str], bytes]  # location -> bytes


def is_cifar_name(name: str) -> bool:
    """True for the base name of a file of either official CIFAR python layout."""
    return bool(_TRAIN_BATCH.match(name)) or name in ("test_batch", _CIFAR10_META, *_CIFAR100_FILES)


def is_cifar_layout(names: set[str]) -> bool:
    """True when these base names look like a CIFAR-10 or CIFAR-100 python folder."""
    cifar10 = "test_batch" in names or any(_TRAIN_BATCH.match(n) for n in names)
    cifar100 = "meta" in names and ("train" in names or "test" in names)
    return cifar10 or cifar100


def has_pickle_header(path: Path) -> bool:
    """True when the file starts like a binary pickle (protocol 2 or later)."""
    try:
        with path.open("rb") as f:
            return f.read(1) == bytes([_PICKLE_PROTO])
    except OSError:
        return False


def is_cifar_directory(directory: Path) -> bool:
    """True when `directory` directly holds CIFAR python batch files."""
    try:
        names = {p.name for p in directory.iterdir() if p.is_file()}
    except OSError as err:
        raise DataError(f"cannot list folder {directory}: {err.strerror}") from err
    return is_cifar_layout(names)


def _unpickle(data: bytes, where: str) -> dict[Any, Any]:
    try:
        obj = load_data_pickle(data)
    except UnsafePickleError as err:
        raise DataError(
            f"refused CIFAR file {where}: {err}, and a CIFAR batch holds only arrays, lists, "
            "strings and numbers; it was not unpickled and nothing in it ran"
        ) from None
    except Exception as err:  # a damaged pickle can raise almost anything
        reason = " ".join(str(err).split()) or type(err).__name__
        raise DataError(f"cannot unpickle CIFAR file {where}: {reason}") from err
    if not isinstance(obj, dict):
        raise DataError(f"CIFAR file {where} holds a {type(obj).__name__}, not a dict")
    return obj


def _first(entries: Mapping[Any, Any], keys: tuple[str, ...], where: str) -> Any:
    """The value of the first key present, stored as bytes (Python 2 pickles) or str."""
    for key in keys:
        for variant in (key.encode(), key):
            if variant in entries:
                return entries[variant]
    wanted = " or ".join(repr(k) for k in keys)
    raise DataError(f"CIFAR file {where} has no {wanted} entry")


def _batch(data: bytes, where: str, label_kind: str) -> Batch:
    """Images and labels of one batch file's bytes."""
    batch = _unpickle(data, where)
    pixels = np.asarray(_first(batch, ("data",), where))
    if pixels.dtype != np.uint8 or pixels.ndim != 2 or pixels.shape[1] != ROW_BYTES:
        raise DataError(
            f"'data' in CIFAR file {where} is {pixels.dtype} {pixels.shape} "
            f"(expected uint8 (N, {ROW_BYTES}))"
        )
    keys = ("coarse_labels",) if label_kind == "coarse" else ("fine_labels", "labels")
    labels = np.asarray(_first(batch, keys, where), dtype=np.int64).reshape(-1)
    if len(labels) != len(pixels):
        raise DataError(f"CIFAR file {where} holds {len(pixels)} images but {len(labels)} labels")
    return pixels.reshape(-1, 3, SIDE, SIDE), labels


def _class_names(data: bytes, where: str, label_kind: str) -> list[str]:
    meta = _unpickle(data, where)
    coarse = label_kind == "coarse"
    keys = ("coarse_label_names",) if coarse else ("fine_label_names", "label_names")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in _first(meta, keys, where)]


def _split(name: str, batches: list[Batch], classes: list[str], where: str) -> ArraySource:
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    if labels.size and (labels.min() < 0 or labels.max() >= len(classes)):
        raise DataError(
            f"labels in {where} range over {labels.min()}..{labels.max()} "
            f"but there are {len(classes)} classes"
        )
    return ArraySource(name, images, labels, classes)


def open_cifar_files(
    name: str, files: Mapping[str, str], read: Reader, options: Mapping[str, Any] | None
) -> SourceSplits:
    """Open a CIFAR python folder given as {base name: location}; `read` fetches the bytes."""
    kind = choice_option(resolve_options(options, DEFAULTS, name), "label_kind", LABEL_KINDS, name)
    train_names = sorted(
        (n for n in files if _TRAIN_BATCH.match(n)), key=lambda n: int(n.rsplit("_", 1)[1])
    )
    if train_names or "test_batch" in files:
        meta_name = _CIFAR10_META
        test_names = ["test_batch"] if "test_batch" in files else []
    else:
        meta_name = "meta"
        train_names = ["train"] if "train" in files else []
        test_names = ["test"] if "test" in files else []
    if not train_names:  # only a test split on disk: train on it, with no built-in test split
        train_names, test_names = test_names, []
    if kind == "coarse" and meta_name == _CIFAR10_META:
        raise DataError(
            f"label_kind='coarse' needs CIFAR-100 data, but {name} holds CIFAR-10 batches"
        )

    def load(names: list[str]) -> list[Batch]:
        return [_batch(read(files[n]), files[n], kind) for n in names]

    train_batches, test_batches = load(train_names), load(test_names)
    if meta_name in files:
        classes = _class_names(read(files[meta_name]), files[meta_name], kind)
    else:
        classes = numbered_classes(*(b[1] for b in train_batches + test_batches))
    where = ", ".join(files[n] for n in train_names)
    train = _split(f"{name}:train" if test_names else name, train_batches, classes, where)
    test = None
    if test_names:
        test = _split(f"{name}:test", test_batches, classes, files[test_names[0]])
    return SourceSplits(train=train, test=test)


def _read_file(where: str) -> bytes:
    try:
        return Path(where).read_bytes()
    except OSError as err:
        raise DataError(f"cannot read CIFAR file {where}: {err.strerror}") from err


def open_cifar_directory(directory: Path, options: Mapping[str, Any] | None = None) -> SourceSplits:
    """A ``cifar-10-batches-py`` or ``cifar-100-python`` folder."""
    files = {p.name: str(p) for p in directory.iterdir() if p.is_file() and is_cifar_name(p.name)}
    return open_cifar_files(str(directory), files, _read_file, options)


def open_cifar_file(path: Path, options: Mapping[str, Any] | None = None) -> SourceSplits:
    """A single batch file as the train split, named by a meta file beside it if there is one."""
    opts = resolve_options(options, DEFAULTS, str(path))
    kind = choice_option(opts, "label_kind", LABEL_KINDS, str(path))
    images, labels = _batch(_read_file(str(path)), str(path), kind)
    classes = numbered_classes(labels)
    for meta_name in (_CIFAR10_META, "meta"):
        meta = path.with_name(meta_name)
        if meta.is_file() and meta != path:
            classes = _class_names(_read_file(str(meta)), str(meta), kind)
            break
    return SourceSplits(train=_split(str(path), [(images, labels)], classes, str(path)), test=None)
