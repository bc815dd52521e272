"""2-D maps: t-SNE keeps separated clusters apart, is seeded, and needs a few points; UMAP when
installed; the scatter plot is a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate.embedding_map import map_2d, plot_map, resolve_map_method

PNG = b"\x89PNG\r\n\x1a\n"


def blobs(n_per: int = 60, dim: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs (unit variance) whose centres are 20 apart; dim > 50 exercises PCA."""
    rng = np.random.default_rng(seed)
    centre = np.zeros(dim)
    centre[0] = 20.0
    x = np.concatenate([rng.normal(size=(n_per, dim)), rng.normal(size=(n_per, dim)) + centre])
    return x.astype(np.float32), np.repeat([0, 1], n_per)


def nearest_centroid_accuracy(coords: np.ndarray, labels: np.ndarray) -> float:
    centroids = np.stack([coords[labels == c].mean(0) for c in (0, 1)])
    predicted = np.linalg.norm(coords[:, None] - centroids[None], axis=2).argmin(1)
    return float((predicted == labels).mean())


def test_tsne_keeps_blobs_apart_and_is_seeded() -> None:
    x, y = blobs()
    coords, used = map_2d(x, method="tsne", seed=3)
    assert used == "tsne" and coords.shape == (120, 2) and np.isfinite(coords).all()
    assert nearest_centroid_accuracy(coords, y) == 1.0
    again, _ = map_2d(x, method="tsne", seed=3)
    assert np.array_equal(coords, again)


def test_tsne_small_sets_and_low_dimensions() -> None:
    x, _ = blobs(n_per=3, dim=8)  # N = 6: perplexity (N - 1) / 3, no PCA
    coords, used = map_2d(x, method="tsne")
    assert used == "tsne" and coords.shape == (6, 2)
    x, _ = blobs(n_per=10, dim=80)  # N = 20 < 50: PCA to N dimensions
    assert map_2d(x, method="tsne")[0].shape == (20, 2)


def test_umap_when_installed() -> None:
    pytest.importorskip("umap")
    x, y = blobs(n_per=40)
    coords, used = map_2d(x, method="umap", seed=0)
    assert used == "umap" and coords.shape == (80, 2)
    assert nearest_centroid_accuracy(coords, y) == 1.0
    assert resolve_map_method("auto") == "umap"


def test_auto_falls_back_to_tsne(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("contrastlab.evaluate.embedding_map.umap_available", lambda: False)
    assert resolve_map_method("auto") == "tsne"
    with pytest.raises(ContrastlabError, match=r"pip install umap-learn"):
        resolve_map_method("umap")
    with pytest.raises(ContrastlabError, match=r"auto, tsne, umap.*'pca'"):
        resolve_map_method("pca")


def test_too_few_or_bad_points() -> None:
    with pytest.raises(ContrastlabError, match=r"at least 5 points, got 4"):
        map_2d(np.zeros((4, 3)), method="tsne")
    with pytest.raises(ContrastlabError, match=r"2-D"):
        map_2d(np.zeros(10), method="tsne")
    bad = np.zeros((10, 3))
    bad[2, 1] = np.nan
    with pytest.raises(ContrastlabError, match=r"finite"):
        map_2d(bad, method="tsne")


def test_plot_map_writes_a_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(30, 2))
    labels = np.array([0, 1, 2] * 9 + [-1] * 3)
    path = plot_map(
        coords, labels, tmp_path / "figs" / "map.png", class_names=["a", "b", "c"], title="t"
    )
    assert path == tmp_path / "figs" / "map.png" and path.read_bytes()[:8] == PNG
    # Unlabelled only (one colour), and more classes than tab20 has colours (no legend).
    alone = plot_map(coords, np.full(30, -1), tmp_path / "alone.png")
    many = plot_map(coords, np.arange(30), tmp_path / "many.png")
    assert alone.read_bytes()[:8] == PNG and many.read_bytes()[:8] == PNG
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alone.png", "figs", "many.png"]
    with pytest.raises(ContrastlabError, match=r"coords \(N, 2\)"):
        plot_map(coords, labels[:5], tmp_path / "bad.png")
