"""`contrastlab embed RUN_DIR_OR_CHECKPOINT`: a trained encoder's frozen features of one split
(.npz or .parquet) and a 2-D map of them (PNG); the library call: `contrastlab.api.embedding`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from contrastlab.commands.args import data_flags, load_model_from_args, written_run
from contrastlab.train.lock import run_lock


def add_parser(subparsers: Any) -> None:
    embed = subparsers.add_parser(
        "embed", help="write a trained encoder's features (npz/parquet) and a 2-D map (PNG)"
    )
    embed.add_argument("target", metavar="RUN_DIR_OR_CHECKPOINT")
    data_flags(embed)
    embed.add_argument(
        "--out",
        metavar="FILE",
        help="features file, .npz or .parquet (default: RUN_DIR/embeddings/SPLIT.npz)",
    )
    embed.add_argument(
        "--split",
        choices=("test", "train"),
        default="test",
        help="embed the held-out split (default) or the training split",
    )
    embed.add_argument(
        "--map",
        dest="map_method",
        choices=("auto", "tsne", "umap", "none"),
        default="auto",
        help="2-D map beside the features: t-SNE, UMAP (when installed; auto prefers it) or none",
    )
    embed.add_argument(
        "--representation",
        metavar="NAME",
        help="which features: backbone (default) or a method's own, e.g. embedding, looc++",
    )
    embed.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Embed --split of TARGET into --out, and say what was written."""
    from contrastlab.api.embedding import MAP_NAMES, embed

    with run_lock(written_run(args), "contrastlab embed"):
        loaded = load_model_from_args(args)  # a bad --representation fails here, before the data
        out = Path(args.out) if args.out else None
        done = embed(loaded, split=args.split, out=out, map_method=args.map_method)
    info = done.metadata
    print(
        f"{loaded.checkpoint} (epoch {loaded.epoch}): {info['representation']} features of "
        f"the {args.split} split, {info['n']} x {info['dim']}\n"
        f"features written to {done.features}"
    )
    if done.map is not None:
        print(f"{MAP_NAMES[info['map']]} map written to {done.map}")
    return 0
