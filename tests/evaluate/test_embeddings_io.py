"""Feature files: exact .npz and .parquet round trips, plain-numpy readability, atomic writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from contrastlab.core.errors import ContrastlabError, DataError
from contrastlab.evaluate import embeddings_io
from contrastlab.evaluate.embeddings_io import load_embeddings, save_embeddings

METADATA = {"checkpoint": "run/checkpoints/last.pt", "epoch": 3, "classes": ["a", "b"], "n": 7}


def sample(n: int = 7, dim: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(n, dim)).astype(np.float32)
    features[0, 0] = np.float32(1e-38)  # a tiny and a huge value survive exactly too
    features[1, 1] = np.float32(3.4e38)
    labels = np.array([0, 1, 1, 0, -1, 1, 0][:n], dtype=np.int64)
    return features, labels


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
def test_round_trip_is_exact(tmp_path: Path, suffix: str) -> None:
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    features, labels = sample()
    path = save_embeddings(tmp_path / "deep" / "er" / f"emb{suffix}", features, labels, METADATA)
    assert path.is_file()
    got_features, got_labels, metadata = load_embeddings(path)
    assert got_features.dtype == np.float32 and got_labels.dtype == np.int64
    assert np.array_equal(got_features, features) and np.array_equal(got_labels, labels)
    assert metadata == METADATA


def test_torch_inputs_are_converted(tmp_path: Path) -> None:
    features = torch.randn(4, 3, dtype=torch.float64)
    labels = torch.tensor([2, 0, 1, 2], dtype=torch.int32)
    path = save_embeddings(tmp_path / "t.npz", features, labels, {})
    got_features, got_labels, _ = load_embeddings(path)
    assert np.array_equal(got_features, features.float().numpy())
    assert got_labels.tolist() == [2, 0, 1, 2] and got_labels.dtype == np.int64


def test_npz_reads_without_pickle(tmp_path: Path) -> None:
    features, labels = sample()
    path = save_embeddings(tmp_path / "e.npz", features, labels, METADATA)
    with np.load(path) as archive:  # allow_pickle is False by default
        assert sorted(archive.files) == ["features", "labels", "metadata"]
        assert archive["metadata"].shape == ()
        assert json.loads(str(archive["metadata"])) == METADATA


def test_parquet_layout(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    features, labels = sample()
    path = save_embeddings(tmp_path / "e.parquet", features, labels, METADATA)
    table = pq.read_table(path)
    assert table.column_names == ["label", "feature"]
    assert table.schema.field("label").type == pa.int64()
    assert table.schema.field("feature").type == pa.list_(pa.float32(), 5)
    assert json.loads(table.schema.metadata[b"contrastlab"]) == METADATA


def test_bad_suffix(tmp_path: Path) -> None:
    features, labels = sample()
    for name in ("e.csv", "e"):
        with pytest.raises(ContrastlabError, match=r"use \.npz or \.parquet") as info:
            save_embeddings(tmp_path / name, features, labels, {})
        assert name in str(info.value)
    with pytest.raises(ContrastlabError, match=r"\.npz or \.parquet"):
        load_embeddings(tmp_path / "e.h5")
    assert not list(tmp_path.iterdir())


def test_missing_pyarrow_names_the_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    features, labels = sample()
    with pytest.raises(ContrastlabError, match=r"pip install pyarrow"):
        save_embeddings(tmp_path / "e.parquet", features, labels, {})


def test_atomic_write_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    features, labels = sample()
    path = save_embeddings(tmp_path / "e.npz", features, labels, METADATA)
    save_embeddings(path, features + 1, labels, METADATA)  # overwrite in place
    assert [p.name for p in tmp_path.iterdir()] == ["e.npz"]
    assert np.array_equal(load_embeddings(path)[0], features + 1)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(embeddings_io.np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        save_embeddings(path, features, labels, METADATA)
    assert [p.name for p in tmp_path.iterdir()] == ["e.npz"]  # the old file, whole
    monkeypatch.undo()
    assert np.array_equal(load_embeddings(path)[0], features + 1)


def test_bad_inputs_and_files(tmp_path: Path) -> None:
    features, labels = sample()
    with pytest.raises(ContrastlabError, match=r"7 integers"):
        save_embeddings(tmp_path / "e.npz", features, labels[:3], {})
    with pytest.raises(ContrastlabError, match=r"2-D"):
        save_embeddings(tmp_path / "e.npz", features[0], labels[:1], {})
    with pytest.raises(ContrastlabError, match=r"not plain JSON"):
        save_embeddings(tmp_path / "e.npz", features, labels, {"x": object()})
    with pytest.raises(DataError, match=r"no embeddings file"):
        load_embeddings(tmp_path / "none.npz")
    np.savez(tmp_path / "other.npz", images=np.zeros((2, 3)))
    with pytest.raises(DataError, match=r"no features, labels, metadata"):
        load_embeddings(tmp_path / "other.npz")
    (tmp_path / "torn.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match=r"cannot read .*torn\.npz"):
        load_embeddings(tmp_path / "torn.npz")
