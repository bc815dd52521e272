"""Feature files: one row per image, its float32 feature vector and its label, plus metadata.

Two formats, chosen by the file's suffix:

``.npz`` (NumPy, always available)
    arrays ``features`` float32 (N, D), ``labels`` int64 (N,) and ``metadata``: a JSON object
    stored as a 0-d unicode array, so ``np.load(path)`` reads the file without ``allow_pickle``
    and ``json.loads(str(f["metadata"]))`` gives the metadata back.
``.parquet`` (Apache Parquet, needs ``pyarrow``)
    columns ``label`` int64 and ``feature`` fixed-size list<float32>[D], one row per image; the
    metadata JSON lives in the schema metadata under the key ``contrastlab``, so pandas, polars or
    DuckDB read the table directly.

Labels are class indices, -1 for an unlabelled image. Files are written atomically (a temporary
file in the same directory, then ``os.replace``), so a reader never sees half a file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
from torch import Tensor

from contrastlab.core.atomic import atomic_write
from contrastlab.core.errors import ContrastlabError, DataError

__all__ = ["FORMATS", "embeddings_format", "load_embeddings", "save_embeddings"]

FORMATS = (".npz", ".parquet")
METADATA_KEY = "contrastlab"  # the parquet schema-metadata key holding the metadata JSON

Format = Literal["npz", "parquet"]


def embeddings_format(path: str | Path) -> Format:
    """``npz`` or ``parquet`` from ``path``'s suffix; a clear error for any other suffix, or for
    ``.parquet`` without pyarrow (so a command can check its --out before doing any work)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return "npz"
    if suffix == ".parquet":
        _pyarrow(path)
        return "parquet"
    raise ContrastlabError(
        f"cannot tell the format of {path} from its suffix {suffix or '(none)'!r}: "
        f"use {' or '.join(FORMATS)}"
    )


def save_embeddings(
    path: str | Path,
    features: np.ndarray | Tensor,
    labels: np.ndarray | Tensor,
    metadata: Mapping[str, Any],
) -> Path:
    """Write ``features`` (N, D) as float32, ``labels`` (N,) as int64 and ``metadata`` (anything
    JSON can hold) to ``path`` (.npz or .parquet), creating its parent directories."""
    path = Path(path)
    kind = embeddings_format(path)
    x, y = _checked(features, labels)
    try:
        text = json.dumps(dict(metadata), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ContrastlabError(f"the metadata for {path} is not plain JSON: {exc}") from None
    if kind == "npz":
        atomic_write(path, lambda handle: np.savez(handle, features=x, labels=y, metadata=text))
    else:
        _write_parquet(path, x, y, text)
    return path


def load_embeddings(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Read a file of `save_embeddings`: features float32 (N, D), labels int64 (N,), metadata."""
    path = Path(path)
    kind = embeddings_format(path)
    if not path.is_file():
        raise DataError(f"no embeddings file at {path}")
    features, labels, text = _read_npz(path) if kind == "npz" else _read_parquet(path)
    try:
        metadata = json.loads(text)
    except ValueError:
        metadata = None
    if not isinstance(metadata, dict):
        raise DataError(f"the metadata of {path} is not a JSON object")
    if features.ndim != 2 or labels.shape != (features.shape[0],):
        raise DataError(
            f"{path} holds features of shape {features.shape} and labels of shape "
            f"{labels.shape} (expected (N, D) and (N,))"
        )
    return features, labels, metadata


def _checked(features: np.ndarray | Tensor, labels: np.ndarray | Tensor) -> tuple[Any, Any]:
    x = np.ascontiguousarray(_numpy(features), dtype=np.float32)
    y = _numpy(labels)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ContrastlabError(f"features must be a 2-D (N, D) array with D >= 1, got {x.shape}")
    if y.shape != (x.shape[0],) or not (np.issubdtype(y.dtype, np.integer) or y.size == 0):
        raise ContrastlabError(
            f"labels must be {x.shape[0]} integers (one per feature row), "
            f"got {y.dtype} of shape {y.shape}"
        )
    return x, np.ascontiguousarray(y, dtype=np.int64)


def _numpy(values: np.ndarray | Tensor) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, Tensor) else np.asarray(values)


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in ("features", "labels", "metadata") if key not in archive]
            if missing:
                raise DataError(
                    f"{path} is not an embeddings file: no {', '.join(missing)} "
                    f"(it holds {', '.join(archive.files) or 'nothing'})"
                )
            features, labels = archive["features"], archive["labels"]
            text = str(archive["metadata"][()])
    except DataError:
        raise
    except Exception as exc:  # zipfile, pickle and format errors: a torn or foreign file
        raise DataError(f"cannot read {path} as .npz: {' '.join(str(exc).split())[:200]}") from None
    return features.astype(np.float32, copy=False), labels.astype(np.int64, copy=False), text


def _pyarrow(path: str | Path) -> Any:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet as pq
    except ImportError:
        raise ContrastlabError(
            f"{path}: .parquet files need pyarrow (pip install pyarrow); or write .npz"
        ) from None
    return pq


def _write_parquet(path: Path, features: np.ndarray, labels: np.ndarray, text: str) -> None:
    pq = _pyarrow(path)
    import pyarrow as pa

    dim = features.shape[1]
    column = pa.FixedSizeListArray.from_arrays(pa.array(features.reshape(-1), pa.float32()), dim)
    table = pa.table({"label": pa.array(labels, pa.int64()), "feature": column})
    table = table.replace_schema_metadata({METADATA_KEY: text})

    def write(handle: IO[bytes]) -> None:
        pq.write_table(table, handle)

    atomic_write(path, write)


def _read_parquet(path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    pq = _pyarrow(path)
    import pyarrow as pa

    try:
        table = pq.read_table(path)
    except Exception as exc:  # ArrowInvalid and OSError for a torn or foreign file
        reason = " ".join(str(exc).split())[:200]
        raise DataError(f"cannot read {path} as .parquet: {reason}") from None
    meta = table.schema.metadata or {}
    kind = table.schema.field("feature").type if "feature" in table.column_names else None
    if (
        METADATA_KEY.encode() not in meta
        or "label" not in table.column_names
        or not isinstance(kind, pa.FixedSizeListType)
    ):
        raise DataError(
            f"{path} is not an embeddings file (expected columns label and feature, a fixed-size "
            f"list, and {METADATA_KEY!r} schema metadata; it has {', '.join(table.column_names)})"
        )
    column = table.column("feature").combine_chunks()
    if column.null_count or table.column("label").null_count:
        raise DataError(f"{path} has empty (null) labels or features")
    flat = column.flatten().to_numpy(zero_copy_only=False)
    features = flat.astype(np.float32, copy=False).reshape(len(table), kind.list_size)
    labels = table.column("label").to_numpy().astype(np.int64, copy=False)
    return features, labels, meta[METADATA_KEY.encode()].decode()
