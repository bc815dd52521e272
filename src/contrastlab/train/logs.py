"""Training logs: metrics.csv (one row per epoch) and TensorBoard scalars."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from contrastlab.core.atomic import atomic_write_text


def write_metrics_csv(path: Path, rows: Sequence[Mapping[str, float | int]]) -> None:
    """Write every row (the union of their keys as columns, in first-seen order) atomically."""
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def read_metrics_csv(path: Path) -> list[dict[str, float]]:
    with path.open(newline="") as handle:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]
