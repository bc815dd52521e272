"""How the paths of an image tree (a folder or a tar archive) map to splits, classes and labels.

The rules, applied to the relative paths of the image files (hidden and non-image files are
already left out):

1. Directory levels common to all files are stripped (``data/train/cat/1.jpg``, ... becomes
   ``train/cat/1.jpg``, ...; a tree with a single class folder therefore reads as flat).
2. All files at depth 1 (``file``): one unlabelled split (label -1, no classes).
3. All files at depth 2 (``class/file``): one labelled split, classes = sorted folder names. If
   every top folder is named train, test or val, they are unlabelled splits instead of classes.
4. All files at depth 3 under top folders all named train, test or val (``split/class/file``):
   labelled splits. Classes are the sorted union of the class folders of the splits used, so a
   label means the same class in each. The test split is ``test`` if present, else ``val``
   (``val`` is ignored when ``test`` exists). A ``train`` folder is required.
5. Anything else (mixed depths, deeper trees, depth 3 without split names) is a DataError that
   names the layouts above.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from contrastlab.core.errors import DataError

SPLIT_NAMES: frozenset[str] = frozenset({"train", "test", "val"})
LAYOUTS = (
    "expected image files directly in one folder (unlabelled), class/file (labelled), "
    "or train|test|val/class/file"
)


@dataclass
class Tree:
    """Class names and, per split ("train", maybe "test"), (file index, label) pairs."""

    classes: list[str]
    splits: dict[str, list[tuple[int, int]]]


def _strip_common(paths: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
    stripped = list(paths)
    while all(len(p) > 1 for p in stripped) and len({p[0] for p in stripped}) == 1:
        stripped = [p[1:] for p in stripped]
    return stripped


def _example(paths: Sequence[tuple[str, ...]], depth: int) -> str:
    return "/".join(next(p for p in paths if len(p) == depth))


def _assign(
    rel: Sequence[tuple[str, ...]], splits: Mapping[str, str | None], level: int | None
) -> Tree:
    """Each split's files, labelled by their folder name at `level` (None: unlabelled).

    `splits` maps a split key to the top folder holding its files (None: all files).
    """
    members = {
        key: [i for i, p in enumerate(rel) if top is None or p[0] == top]
        for key, top in splits.items()
    }
    if level is None:
        unlabelled = {key: [(i, -1) for i in ids] for key, ids in members.items()}
        return Tree(classes=[], splits=unlabelled)
    classes = sorted({rel[i][level] for ids in members.values() for i in ids})
    index = {name: k for k, name in enumerate(classes)}
    return Tree(
        classes=classes,
        splits={key: [(i, index[rel[i][level]]) for i in ids] for key, ids in members.items()},
    )


def arrange(paths: Sequence[tuple[str, ...]], where: str) -> Tree:
    """Apply the layout rules to relative paths (tuples of components); DataError otherwise."""
    if not paths:
        raise DataError(f"no image files in {where}")
    rel = _strip_common(paths)
    depths = sorted({len(p) for p in rel})
    if len(depths) > 1:
        examples = ", ".join(f"{_example(rel, d)} (depth {d})" for d in depths)
        raise DataError(
            f"mixed layout in {where}: image files at different depths, e.g. {examples}; {LAYOUTS}"
        )
    depth = depths[0]
    tops = {p[0] for p in rel}
    split_tops = depth > 1 and tops <= SPLIT_NAMES
    if depth > 3 or (depth == 3 and not split_tops):
        raise DataError(
            f"unsupported layout in {where}: image files {depth} levels deep, "
            f"e.g. {_example(rel, depth)}; {LAYOUTS}"
        )
    if not split_tops:  # file (depth 1, unlabelled) or class/file (depth 2, labelled)
        return _assign(rel, {"train": None}, level=None if depth == 1 else 0)
    if "train" not in tops:
        found = ", ".join(sorted(tops))
        raise DataError(f"no train folder in {where} (found split folders: {found}); {LAYOUTS}")
    test_top = "test" if "test" in tops else ("val" if "val" in tops else None)
    splits = {"train": "train"} | ({"test": test_top} if test_top else {})
    # split/file (depth 2) holds unlabelled splits; split/class/file (depth 3) labelled ones.
    return _assign(rel, splits, level=None if depth == 2 else 1)
