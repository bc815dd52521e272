"""`contrastlab embed RUN_DIR_OR_CHECKPOINT`: a trained encoder's frozen features of one split,
written as .npz or .parquet (`contrastlab.evaluate.embeddings_io`), and a 2-D map of them as PNG
(t-SNE or UMAP, `contrastlab.evaluate.embedding_map`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from contrastlab.commands.datasets import PreparedData, prepare_data
from contrastlab.commands.loading import LoadedModel, load_model_from_args
from contrastlab.commands.outputs import check_out_file, is_map_png
from contrastlab.data import ImageTensors
from contrastlab.errors import ContrastlabError, DataError
from contrastlab.evaluate import extract_features
from contrastlab.evaluate.embedding_map import MIN_POINTS, map_2d, plot_map, resolve_map_method
from contrastlab.evaluate.embeddings_io import embeddings_format, load_embeddings, save_embeddings
from contrastlab.models import channels_last_allowed

MAP_NAMES = {"tsne": "t-SNE", "umap": "UMAP"}


def output_path(args: argparse.Namespace, loaded: LoadedModel) -> Path:
    """--out, else ``RUN_DIR/embeddings/SPLIT.npz``; a bare checkpoint needs --out."""
    if args.out:
        out = Path(args.out)
    elif loaded.run is not None:
        out = loaded.run.path / "embeddings" / f"{args.split}.npz"
    else:
        raise ContrastlabError(
            f"{loaded.checkpoint} is a checkpoint file, not a run directory: "
            "give --out FILE (.npz or .parquet) for the embeddings"
        )
    embeddings_format(out)  # a bad suffix, or .parquet without pyarrow, fails before any work
    mine = "a features file written by `contrastlab embed`"
    check_out_file(out, f"--out {out}", _is_embeddings, mine)
    if args.map_method != "none":  # the map is written beside the features
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


def pick_split(args: argparse.Namespace, data: PreparedData) -> ImageTensors:
    """The images of ``--split``: the held-out split (which must exist) or the training split."""
    if args.split == "train":
        return data.train
    if data.test is None:
        raise DataError(
            f"no held-out split to embed ({data.eval_note}); "
            "give labelled --eval-data, or use --split train"
        )
    return data.test


def run_embed(args: argparse.Namespace) -> int:
    """Write the --representation features of --split to --out (default
    ``RUN_DIR/embeddings/SPLIT.npz``) and, unless ``--map none``, the map beside it (``.png``).

    Everything that can be checked without the data (the target, the representation, the output
    suffix, the map method) is checked before any image is decoded."""
    loaded = load_model_from_args(args)  # a bad --representation fails here, before the data
    recipe = loaded.recipe
    out = output_path(args, loaded)
    mapping = None if args.map_method == "none" else resolve_map_method(args.map_method)
    data = prepare_data(recipe.data, progress=recipe.train.progress)
    split = pick_split(args, data)
    if mapping is not None and len(split) < MIN_POINTS:
        raise DataError(
            f"a 2-D map needs at least {MIN_POINTS} images, the {args.split} split has "
            f"{len(split)}; use --map none to write the features only"
        )
    features = extract_features(
        loaded.representation(),
        split.images,
        batch_size=recipe.eval.batch_size,
        device=loaded.device,
        channels_last=channels_last_allowed(recipe.train.channels_last, loaded.device),
    ).numpy()
    labels = np.where(split.labels.numpy() < 0, -1, split.labels.numpy()).astype(np.int64)
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
        "split": args.split,
        "eval_data": data.eval_note,
        "classes": list(split.classes),
        "n": int(features.shape[0]),
        "dim": int(features.shape[1]),
        "map": map_used,
    }
    save_embeddings(out, features, labels, metadata)
    print(
        f"{loaded.checkpoint} (epoch {loaded.epoch}): {recipe.eval.representation} features of "
        f"the {args.split} split, {features.shape[0]} x {features.shape[1]}\n"
        f"features written to {out}"
    )
    if coords is not None:
        title = (
            f"{recipe.method.name} {recipe.model.backbone} x{recipe.model.width:g} "
            f"{recipe.eval.representation}, "
            f"{args.split} split, epoch {loaded.epoch} ({MAP_NAMES[map_used]})"
        )
        png = plot_map(
            coords, labels, out.with_suffix(".png"), class_names=split.classes, title=title
        )
        print(f"{MAP_NAMES[map_used]} map written to {png}")
    return 0
