"""What the commands share in reading their arguments: the data flags, ``--set KEY=VALUE`` and
the short flags (``--epochs``, ``--data``, ...) as recipe overrides, a TARGET's model loaded with
them, and the run directory a command writes into (which it locks).

Nothing heavy is imported at the top: the parsers load without torch."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contrastlab.api.loading import LoadedModel

__all__ = ["SHORT_FLAGS", "data_flags", "load_model_from_args", "overrides_from", "written_run"]

SHORT_FLAGS = {  # CLI flag -> recipe key
    "data": "data.source",
    "eval_data": "data.eval_source",
    "on_bad_image": "data.on_bad_image",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "seed": "train.seed",
    "device": "train.device",
    "representation": "eval.representation",
    "lr_scaling": "optim.lr_scaling",
    "sync_bn": "train.sync_bn",
}


def overrides_from(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """``--set`` pairs, then the short flags (which win), in the order they apply."""
    from contrastlab.config import parse_override

    pairs = [parse_override(text) for text in args.set or []]
    pairs += [
        (key, getattr(args, flag))
        for flag, key in SHORT_FLAGS.items()
        if getattr(args, flag, None) is not None
    ]
    return pairs


def load_model_from_args(args: argparse.Namespace) -> LoadedModel:
    """`load_model` for a command's TARGET and its --set/--data/--device/... flags."""
    from contrastlab.api.loading import load_model

    return load_model(args.target, overrides_from(args))


def written_run(args: argparse.Namespace) -> Path | None:
    """The run directory `eval`/`embed`/`analyze` write into (TARGET without --out), which they
    lock as `train` does: a run being trained or resumed is not written by a second process."""
    target = Path(args.target)
    is_run = (target / "config.yaml").is_file()  # not a folder that merely exists
    return target if args.out is None and is_run else None


def data_flags(parser: argparse.ArgumentParser) -> None:
    """The flags every command that reads data shares: --data, --eval-data, --device,
    --on-bad-image and --set."""
    parser.add_argument(
        "--data", metavar="PATH_OR_NAME", help="training images: shapes, digits, or a path"
    )
    parser.add_argument(
        "--eval-data", metavar="PATH", help="labelled held-out images (default: the test split)"
    )
    parser.add_argument("--device", help="auto, cpu, cuda or cuda:N (= --set train.device=...)")
    parser.add_argument(
        "--on-bad-image",
        choices=("error", "skip"),
        help="an unreadable image stops the run, naming it (error, the default), or is left out, "
        "counted and listed in RUN_DIR/bad_images.txt (skip) (= --set data.on_bad_image=...)",
    )
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override any recipe key, e.g. optim.lr=0.3",
    )
