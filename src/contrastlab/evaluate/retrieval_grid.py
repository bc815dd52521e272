"""A retrieval picture: each query next to its nearest gallery images, framed right or wrong.

One row per query: the query image (titled "query" and its class), then its top-k gallery images
in rank order, each framed green when its label is the query's and red otherwise, as in the
retrieval figure of the LOOC paper (Xiao et al. 2021, "What Should Not Be Contrastive in
Contrastive Learning"). The frames are drawn into the image pixels, so their colour is exact in
the PNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import torch
from torch import Tensor

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_images, check_labels

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from contrastlab.core.figures import save_figure

__all__ = ["MATCH_COLOUR", "MISMATCH_COLOUR", "frame_colour", "framed", "retrieval_grid"]

MATCH_COLOUR = (0, 170, 0)
"""RGB frame of a neighbour with the query's label (green)."""
MISMATCH_COLOUR = (220, 0, 0)
"""RGB frame of a neighbour with another label (red)."""


def frame_colour(query_label: int, neighbour_label: int) -> tuple[int, int, int]:
    """Green (:data:`MATCH_COLOUR`) for equal labels, else red (:data:`MISMATCH_COLOUR`)."""
    return MATCH_COLOUR if int(query_label) == int(neighbour_label) else MISMATCH_COLOUR


def framed(image: np.ndarray, colour: tuple[int, int, int] | None, width: int) -> np.ndarray:
    """A (C, H, W) uint8 image as (H + 2w, W + 2w, 3) RGB with a ``width``-pixel border.

    Grey images (C = 1) are repeated to RGB. ``colour`` None leaves the border white.
    """
    rgb = np.repeat(image, 3, axis=0) if image.shape[0] == 1 else image
    out = np.full((rgb.shape[1] + 2 * width, rgb.shape[2] + 2 * width, 3), 255, dtype=np.uint8)
    if colour is not None:
        out[...] = colour
    out[width : width + rgb.shape[1], width : width + rgb.shape[2]] = rgb.transpose(1, 2, 0)
    return out


def _check_channels(images: Tensor, what: str) -> None:
    check_images(images, what=what)
    if images.shape[1] not in (1, 3) or images.shape[0] == 0:
        raise ContrastlabError(
            f"{what} must hold at least one image with 1 or 3 channels, got shape "
            f"{tuple(images.shape)}"
        )


def retrieval_grid(
    query_images: Tensor,
    gallery_images: Tensor,
    neighbours: Tensor | np.ndarray,
    query_labels: Tensor | np.ndarray,
    gallery_labels: Tensor | np.ndarray,
    path: Path | str,
    *,
    class_names: Sequence[str] | None = None,
    title: str = "",
) -> Path:
    """Save a PNG grid: per row a query, then its gallery neighbours framed green/red; return path.

    ``query_images`` (Q, C, H, W) and ``gallery_images`` (N, C, H, W) are uint8 with C = 1 or 3;
    ``neighbours`` (Q, k) holds gallery indices in rank order (e.g. from
    :func:`contrastlab.evaluate.retrieval.top_k_indices`). Labels are integers, one per image;
    ``class_names[label]`` titles the images when given. Parent directories are created.
    """
    _check_channels(query_images, "query_images")
    _check_channels(gallery_images, "gallery_images")
    n_queries, n_gallery = query_images.shape[0], gallery_images.shape[0]
    q_labels = check_labels(query_labels, n_queries, split="query").numpy()
    g_labels = check_labels(gallery_labels, n_gallery, split="gallery").numpy()
    nn = torch.as_tensor(neighbours).cpu()
    if nn.ndim != 2 or nn.shape[0] != n_queries or nn.shape[1] < 1 or nn.dtype.is_floating_point:
        raise ContrastlabError(
            f"neighbours must be integer gallery indices of shape ({n_queries}, k) with k >= 1, "
            f"got {nn.dtype} of shape {tuple(nn.shape)}"
        )
    nn_np = nn.numpy().astype(np.int64)
    if nn_np.min() < 0 or nn_np.max() >= n_gallery:
        raise ContrastlabError(
            f"neighbours must index the {n_gallery} gallery images, got indices from "
            f"{nn_np.min()} to {nn_np.max()}"
        )
    largest = int(max(q_labels.max(), g_labels.max()))
    if class_names is not None and len(class_names) <= largest:
        raise ContrastlabError(
            f"class_names has {len(class_names)} names but the labels go up to {largest}"
        )

    def name(label: int) -> str:
        return class_names[label] if class_names is not None else str(label)

    k = nn_np.shape[1]
    side = max(query_images.shape[2:] + gallery_images.shape[2:])
    width = max(1, round(side / 12))
    queries, gallery = query_images.cpu().numpy(), gallery_images.cpu().numpy()
    fig, axes = plt.subplots(
        n_queries,
        k + 1,
        figsize=(1.1 * (k + 1), 1.25 * n_queries + 0.5),
        dpi=100,
        squeeze=False,
        layout="constrained",
    )
    for row in range(n_queries):
        axes[row, 0].imshow(framed(queries[row], None, width), interpolation="nearest")
        axes[row, 0].set_title(f"query\n{name(int(q_labels[row]))}", fontsize=7)
        for rank, j in enumerate(nn_np[row], start=1):
            colour = frame_colour(q_labels[row], g_labels[j])
            axes[row, rank].imshow(framed(gallery[j], colour, width), interpolation="nearest")
            axes[row, rank].set_title(f"{rank}: {name(int(g_labels[j]))}", fontsize=7)
    for ax in axes.flat:
        ax.set_axis_off()
    caption = "green frame: same class as the query, red: another class"
    fig.suptitle(f"{title}\n{caption}" if title else caption, fontsize=8)
    return save_figure(fig, path, tight=False)
