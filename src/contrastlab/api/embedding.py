"""A trained encoder's frozen features of one split, written as .npz or .parquet
(`contrastlab.evaluate.embeddings_io`), and a 2-D map of them as PNG (t-SNE or UMAP,
`contrastlab.evaluate.embedding_map`): `embed`, the library call behind `contrastlab embed`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from contrastlab.api.data import PreparedData, prepare_data
from contrastlab.api.loading import LoadedModel
from contrastlab.api.outputs import check_out_file, is_map_png
from contrastlab.core.errors import ContrastlabError, DataError
from contrastlab.data import ImageTensors
from contrastlab.evaluate import extract_features
from contrastlab.evaluate.embedding_map import MIN_POINTS, map_2d, plot_map, resolve_map_method
from contrastlab.evaluate.embeddings_io import embeddings_format, load_embeddings, save_embeddings
from contrastlab.models import channels_last_allowed

__all__ = ["MAP_NAMES", "Embedding", "embed", "output_path", "pick_split"]

MAP_NAMES = {"tsne": "t-SNE", "umap": "UMAP"}


def output_path(loaded: LoadedModel, split: str, out: Path | None, map_method: str) -> Path:
    """``out``, else ``RUN_DIR/embeddings/SPLIT.npz``; a bare checkpoint needs ``out``. Refused
    before any work when it (or the map beside it) would replace a file embed did not write."""
    if out is None and loaded.run is not None:
        out = loaded.run.path / "embeddings" / f"{split}.npz"
    elif out is None:
        raise ContrastlabError(
            f"{loaded.checkpoint} is a checkpoint file, not a run directory: "
            "give --out FILE (.npz or .parquet) for the embeddings"
        )
    embeddings_format(out)  # a bad suffix, or .parquet without pyarrow, fails before any work
    mine = "a features file written by `contrastlab embed`"
    check_out_file(out, f"--out {out}", _is_embeddings, mine)
    if map_method != "none":  # the map is written beside the features
        png = out.with_suffix(".png")
        where = f"the map's path {png} (beside --out)"
        check_out_file(png, where, is_map_png, "a map drawn by `contrastlab embed`")
    return out


def _is_embeddings(path: Path) -> bool:
    """A features file that `save_embeddings` wrote (it reads back with its metadata)."""
    try:
        load_embeddings(path)
    except ContrastlabError:
        return False
    return True


def pick_split(split: str, data: PreparedData) -> ImageTensors:
    """The images of ``split``: the held-out split (which must exist) or the training split."""
    if split == "train":
        return data.train
    if data.test is None:
        raise DataError(
            f"no held-out split to embed ({data.eval_note}); "
            "give labelled --eval-data, or use --split train"
        )
    return data.test


@dataclass
class Embedding:
    """What `embed` wrote: the features file, the map (None with ``map_method="none"``) and
    the metadata stored with the features."""

    features: Path
    map: Path | None
    metadata: dict[str, Any]


def embed(
    loaded: LoadedModel,
    *,
    split: str = "test",
    out: Path | None = None,
    map_method: str = "auto",
) -> Embedding:
    """Write the representation's features of ``split`` (test or train) to ``out`` (default
    ``RUN_DIR/embeddings/SPLIT.npz``) and, unless ``map_method="none"``, a 2-D map beside it
    (``.png``). Everything that can be checked without the data (the output suffix, the map
    method) is checked before any image is decoded."""
    recipe = loaded.recipe
    out = output_path(loaded, split, out, map_method)
    mapping = None if map_method == "none" else resolve_map_method(map_method)
    data = prepare_data(recipe.data, progress=recipe.train.progress)
    images = pick_split(split, data)
    if mapping is not None and len(images) < MIN_POINTS:
        raise DataError(
            f"a 2-D map needs at least {MIN_POINTS} images, the {split} split has "
            f"{len(images)}; use --map none to write the features only"
        )
    features = extract_features(
        loaded.representation(),
        images.images,
        batch_size=recipe.eval.batch_size,
        device=loaded.device,
        channels_last=channels_last_allowed(recipe.train.channels_last, loaded.device),
    ).numpy()
    labels = np.where(images.labels.numpy() < 0, -1, images.labels.numpy()).astype(np.int64)
    coords, map_used = None, "none"
    if mapping is not None:
        coords, map_used = map_2d(features, method=mapping, seed=recipe.train.seed)
    metadata: dict[str, Any] = {
        "checkpoint": str(loaded.checkpoint),
        "epoch": loaded.epoch,
        "method": recipe.method.name,
        "backbone": recipe.model.backbone,
        "representation": recipe.eval.representation,
        "data": recipe.data.source,
        "split": split,
        "eval_data": data.eval_note,
        "classes": list(images.classes),
        "n": int(features.shape[0]),
        "dim": int(features.shape[1]),
        "map": map_used,
    }
    save_embeddings(out, features, labels, metadata)
    png = None
    if coords is not None:
        title = (
            f"{recipe.method.name} {recipe.model.backbone} x{recipe.model.width:g} "
            f"{recipe.eval.representation}, "
            f"{split} split, epoch {loaded.epoch} ({MAP_NAMES[map_used]})"
        )
        png = plot_map(
            coords, labels, out.with_suffix(".png"), class_names=images.classes, title=title
        )
    return Embedding(out, png, metadata)
