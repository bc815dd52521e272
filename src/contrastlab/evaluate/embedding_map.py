"""Two-dimensional maps of feature vectors, t-SNE or UMAP, and a scatter plot of one by class.

t-SNE is van der Maaten & Hinton 2008 ("Visualizing Data using t-SNE", JMLR 9) in
scikit-learn's Barnes-Hut implementation (van der Maaten 2014, "Accelerating t-SNE using
tree-based algorithms", JMLR 15). UMAP is McInnes, Healy & Melville 2018 ("UMAP: Uniform
Manifold Approximation and Projection for Dimension Reduction", arXiv:1802.03426) from the
optional ``umap-learn`` package. Both only show which points are near which: distances between
far-apart clusters and the clusters' sizes on the map mean little.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import matplotlib
import numpy as np
from torch import Tensor

from contrastlab.core.errors import ContrastlabError

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from contrastlab.core.figures import save_figure

__all__ = ["MAP_METHODS", "map_2d", "plot_map", "resolve_map_method", "umap_available"]

MAP_METHODS = ("auto", "tsne", "umap")
MIN_POINTS = 5  # below this neither map says anything (and t-SNE's perplexity drops below 1.4)
PCA_DIM = 50  # t-SNE's input dimension after PCA, as in van der Maaten & Hinton 2008
UNLABELLED_COLOUR = "tab:gray"


def umap_available() -> bool:
    """Whether umap-learn's ``umap.UMAP`` can be imported (importing it takes a few seconds)."""
    try:
        from umap import UMAP  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_map_method(method: str) -> Literal["tsne", "umap"]:
    """``auto`` -> umap when umap-learn is installed, else tsne; a named method must be usable."""
    if method not in MAP_METHODS:
        raise ContrastlabError(
            f"map method must be one of {', '.join(MAP_METHODS)}, got {method!r}"
        )
    if method == "tsne":
        return "tsne"
    if umap_available():
        return "umap"
    if method == "umap":
        raise ContrastlabError(
            "the umap map needs umap-learn (pip install umap-learn); use tsne or auto"
        )
    return "tsne"


def map_2d(
    features: np.ndarray | Tensor, *, method: str = "auto", seed: int = 0
) -> tuple[np.ndarray, str]:
    """Embed ``features`` (N, D) in the plane: float64 coordinates (N, 2) and the method used.

    ``tsne``: scikit-learn's ``TSNE`` with ``init="pca"`` (a PCA start keeps more of the global
    layout than a random one and makes the result reproducible; Kobak & Berens 2019, "The art of
    using t-SNE for single-cell transcriptomics", Nat. Commun. 10) and perplexity
    ``min(30, (N - 1) / 3)``: 30 is the usual default, and Barnes-Hut t-SNE uses the
    ``3 * perplexity`` nearest neighbours of each point, which a set of N points must be able to
    provide. When D > 50 the features are first reduced to 50 dimensions by PCA (to N when there
    are fewer points), as van der Maaten & Hinton 2008 do, which speeds up the neighbour search
    and removes some noise. ``umap``: umap-learn's ``UMAP`` with its defaults (15 neighbours, or
    N - 1 for fewer points; ``min_dist`` 0.1). ``auto``: umap when umap-learn is installed, else
    tsne. ``seed`` makes either method deterministic (UMAP then runs single-threaded).

    At least 5 points are needed; features must be finite.
    """
    used = resolve_map_method(method)
    x = np.asarray(features.detach().cpu() if isinstance(features, Tensor) else features)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ContrastlabError(f"features must be a 2-D (N, D) array, got shape {x.shape}")
    if x.shape[0] < MIN_POINTS:
        raise ContrastlabError(f"a 2-D map needs at least {MIN_POINTS} points, got {x.shape[0]}")
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise ContrastlabError(
            "features to map must be finite numbers (found NaN, inf or non-numbers)"
        )
    x = x.astype(np.float32, copy=False)
    coords = _tsne(x, seed) if used == "tsne" else _umap(x, seed)
    return np.asarray(coords, dtype=np.float64), used


def _tsne(x: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    n, dim = x.shape
    if dim > PCA_DIM:
        x = PCA(n_components=min(PCA_DIM, n), random_state=seed).fit_transform(x)
    tsne = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed)
    result: np.ndarray = tsne.fit_transform(x)
    return result


def _umap(x: np.ndarray, seed: int) -> np.ndarray:
    from umap import UMAP

    reducer = UMAP(n_components=2, n_neighbors=min(15, x.shape[0] - 1), random_state=seed, n_jobs=1)
    result: np.ndarray = reducer.fit_transform(x)
    return result


def plot_map(
    coords: np.ndarray,
    labels: np.ndarray | Tensor,
    path: str | Path,
    *,
    class_names: Sequence[str] | None = None,
    title: str = "",
) -> Path:
    """Scatter ``coords`` (N, 2) coloured by ``labels`` (N,) into a PNG at ``path``.

    Classes take the tab10 colours (tab20 beyond 10 classes, repeating beyond 20), with a legend
    of ``class_names`` (the label numbers when there are none) for up to 20 classes. Unlabelled
    points (label < 0) are grey, and drawn in a single colour without a legend when no point has
    a label. Written atomically, parent directories created.
    """
    path = Path(path)
    xy = np.asarray(coords, dtype=np.float64)
    y = np.asarray(labels.detach().cpu() if isinstance(labels, Tensor) else labels).astype(np.int64)
    if xy.ndim != 2 or xy.shape[1] != 2 or y.shape != (xy.shape[0],):
        raise ContrastlabError(
            f"plot_map needs coords (N, 2) and labels (N,), got {xy.shape} and {y.shape}"
        )
    names = list(class_names or [])
    present = sorted(int(c) for c in np.unique(y[y >= 0]))
    n_classes = max([len(names), *(c + 1 for c in present)], default=0)
    cmap = plt.get_cmap("tab10" if n_classes <= 10 else "tab20")
    size = float(np.clip(3000 / max(len(y), 1), 2, 30))
    fig, ax = plt.subplots(figsize=(7.2, 6) if present else (6, 6), dpi=120)
    unlabelled = y < 0
    if unlabelled.any():
        colour = UNLABELLED_COLOUR if present else "tab:blue"
        ax.scatter(
            xy[unlabelled, 0],
            xy[unlabelled, 1],
            s=size,
            c=colour,
            alpha=0.6,
            lw=0,
            label="unlabelled",
        )
    for c in present:
        name = names[c] if c < len(names) else str(c)
        ax.scatter(
            xy[y == c, 0],
            xy[y == c, 1],
            s=size,
            color=cmap(c % cmap.N),
            alpha=0.8,
            lw=0,
            label=name,
        )
    if present and n_classes <= 20:
        ax.legend(
            loc="center left",
            bbox_to_anchor=(1.01, 0.5),
            fontsize=8,
            markerscale=max(1.0, (36 / size) ** 0.5),
        )
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)
