"""Every number a reproduction computed, and whether two sets of them agree: what tells a
published report from a stale one (`numbers.json` beside each report in the gallery).

A report is stale when the code would now produce other numbers, not when a file changed: the
gallery keeps, beside each paper's small-scale report, the numbers of the same paper's `tiny`
scale, computed by the code that made the report. The tests rerun every paper's tiny scale and
compare (`differences`): a refactor that changes no number keeps the gallery valid, and a change
that moves one (a loss, an augmentation, a default, an evaluation) fails until the gallery is
regenerated.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from threadpoolctl import threadpool_limits

__all__ = ["NUMBERS_FILE", "differences", "numbers", "one_thread"]

NUMBERS_FILE = "numbers.json"  # the gallery's record of a paper's tiny-scale numbers

# wall and CPU times and speeds differ from run to run; they are no result of the code
_TIMING = re.compile(r"(^_|seconds|_per_s$)")


def _leaves(value: Any, path: str) -> Iterator[tuple[str, float]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not _TIMING.search(str(key)):
                yield from _leaves(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}/{index}")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, float(value)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch, BLAS and OpenMP on one thread meanwhile: the tiny scale's numbers depend on the
    thread count (a sum split over two threads rounds differently, and a tie in a model
    selection can flip), so they are recorded and compared on one thread, as
    ``OMP_NUM_THREADS=1`` gives."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(before)


def numbers(root: Path) -> dict[str, float]:
    """Every number of the reproduction in ``root``: the leaves of each training run's
    ``runs/RUN/metrics.json`` (final loss, evaluation) and of each step's ``steps/NAME.json``,
    keyed ``FILE/KEY/...``; times and speeds left out."""
    files = sorted(root.glob("runs/*/metrics.json"))
    files += sorted(p for p in root.glob("steps/*.json") if not p.name.endswith(".time.json"))
    found: dict[str, float] = {}
    for path in files:
        found.update(_leaves(json.loads(path.read_text()), path.relative_to(root).as_posix()))
    return found


def differences(
    recorded: Mapping[str, float], found: Mapping[str, float], *, rel: float = 1e-6
) -> list[str]:
    """What differs between two `numbers`: keys on one side only, and values further apart than
    ``rel`` (relative; NaN equals NaN). Empty when they agree."""
    lines = [f"{key}: recorded, now missing" for key in sorted(set(recorded) - set(found))]
    lines += [f"{key}: new, not recorded" for key in sorted(set(found) - set(recorded))]
    for key in sorted(set(recorded) & set(found)):
        a, b = recorded[key], found[key]
        if (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rel, abs_tol=1e-12):
            continue
        lines.append(f"{key}: recorded {a!r}, now {b!r}")
    return lines
