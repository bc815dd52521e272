"""The `contrastlab` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from contrastlab import __version__
from contrastlab.errors import ContrastlabError
from contrastlab.train.lock import run_lock

# method names of `contrastlab train METHOD` (config.schema.METHODS, kept here so that the CLI
# starts without importing torch; a test keeps the two equal)
METHODS = ("simclr", "moco", "supcon", "ce", "iic", "clae", "looc", "temporal")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="contrastlab",
        description="Contrastive representation learning on images: train, evaluate, diagnose.",
    )
    parser.add_argument("--version", action="version", version=f"contrastlab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train an encoder (SimCLR on the built-in shapes by default)"
    )
    train.add_argument(
        "method",
        nargs="?",
        choices=METHODS,
        help="train this method with its CPU recipe (default: simclr; --recipe picks any recipe)",
    )
    train.add_argument(
        "--recipe", help="a bundled recipe name (see `contrastlab recipes`) or a YAML file"
    )
    _data_flags(train)
    train.add_argument("--out", help="run directory to create (default: runs/RECIPE-TIMESTAMP)")
    train.add_argument(
        "--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint"
    )
    train.add_argument("--epochs", type=int, help="= --set train.epochs=N")
    train.add_argument("--batch-size", type=int, help="= --set train.batch_size=N")
    train.add_argument("--seed", type=int, help="= --set train.seed=N")
    train.add_argument(
        "--lr-scaling",
        choices=("none", "linear", "sqrt"),
        help="= --set optim.lr_scaling=RULE: peak lr x B/256 (linear) or x sqrt(B/256) for the "
        "global batch B (train.batch_size, summed over torchrun processes)",
    )
    train.add_argument(
        "--sync-bn",
        action="store_const",
        const=True,
        help="= --set train.sync_bn=true: batch-norm statistics pooled over all processes",
    )
    train.add_argument(
        "--stop-after",
        type=int,
        metavar="EPOCH",
        help="stop (resumably) once EPOCH epochs are done",
    )
    train.set_defaults(func=_train)

    evaluate = commands.add_parser(
        "eval",
        help="kNN, linear probe, retrieval, clustering, few-label fine-tuning vs random init",
    )
    evaluate.add_argument("target", metavar="RUN_DIR_OR_CHECKPOINT")
    _data_flags(evaluate)
    evaluate.add_argument(
        "--protocol",
        action="append",
        metavar="NAME",
        help="knn, linear, retrieval, clustering, finetune or all; repeat or comma-separate "
        "(default: the recipe's eval.protocols: all but finetune)",
    )
    evaluate.add_argument(
        "--out", help="write the figures as JSON here (default: merged into RUN_DIR/metrics.json)"
    )
    evaluate.add_argument(
        "--no-baseline", action="store_true", help="skip the random-init baseline"
    )
    evaluate.add_argument(
        "--representation",
        metavar="NAME",
        help="which features to evaluate: backbone (default) or a method's own, e.g. looc++",
    )
    evaluate.set_defaults(func=_eval)

    embed = commands.add_parser(
        "embed", help="write a trained encoder's features (npz/parquet) and a 2-D map (PNG)"
    )
    embed.add_argument("target", metavar="RUN_DIR_OR_CHECKPOINT")
    _data_flags(embed)
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
    embed.set_defaults(func=_embed)

    analyze = commands.add_parser(
        "analyze",
        help="diagnostics: factor suppression, optimisation speed, covariance alignment, ...",
    )
    analyze.add_argument(
        "kind", metavar="KIND", help="suppression, speed, covariance, cka or invariance"
    )
    analyze.add_argument("target", metavar="RUN_DIR_OR_CHECKPOINT")
    _data_flags(analyze)
    analyze.add_argument(
        "--out", metavar="DIR", help="write KIND.json and figures here (default: the run directory)"
    )
    analyze.add_argument("--no-baseline", action="store_true", help="skip the random-init encoder")
    analyze.add_argument(
        "--representation",
        metavar="NAME",
        help="which features: backbone (default) or a method's own, e.g. embedding",
    )
    analyze.add_argument(
        "--factors", metavar="A,B", help="suppression: only these factors (default: all)"
    )
    analyze.add_argument(
        "--fraction",
        type=float,
        help="speed, interpolation, criticality: fine-tune on this fraction of the labels "
        "(default: the last of "
        "eval.finetune_fractions)",
    )
    analyze.add_argument(
        "--target-top1",
        type=float,
        help="speed: the top-1 to reach (default: the random-init run's final top-1)",
    )
    analyze.add_argument(
        "--every", type=int, default=1, help="speed: measure the test top-1 every N epochs"
    )
    analyze.add_argument(
        "--other", metavar="RUN", help="cka: compare with this run (default: random init)"
    )
    analyze.add_argument(
        "--layers", metavar="A,B", help="cka: module names (default: the ResNet stages)"
    )
    analyze.add_argument(
        "--kernel", choices=("linear", "rbf"), default="linear", help="cka: the kernel"
    )
    analyze.add_argument(
        "--transforms",
        metavar="A,B",
        help="invariance: occlusion, rotation, illumination (default: all three)",
    )
    analyze.add_argument(
        "--images", type=int, default=500, help="invariance: held-out images, one set each"
    )
    analyze.add_argument(
        "--top-k", type=int, default=25, help="invariance: the K most invariant neurons"
    )
    analyze.set_defaults(func=_analyze)

    reproduce = commands.add_parser(
        "reproduce", help="rerun a paper's key finding at small scale and report the verdict"
    )
    reproduce.add_argument("paper", nargs="?", metavar="PAPER", help="see --list")
    reproduce.add_argument("--list", action="store_true", help="list the papers")
    reproduce.add_argument(
        "--scale",
        choices=("tiny", "small", "paper"),
        default="small",
        help="small: at most 20 min on a 2-core CPU (default); paper: the GPU recipe; "
        "tiny: seconds, a smoke test",
    )
    reproduce.add_argument(
        "--out", metavar="DIR", help="working directory (default: runs/reproduce-PAPER-SCALE)"
    )
    reproduce.add_argument(
        "--datasets",
        metavar="DIR",
        help="CIFAR-10 JPEG / MNIST folder (default: $CONTRASTLAB_DATASETS; parts needing it "
        "are skipped without one)",
    )
    reproduce.add_argument(
        "--publish", metavar="DIR", help="also copy the report and figures to DIR/PAPER/"
    )
    reproduce.add_argument(
        "--progress", action="store_true", help="show each training run's progress bars"
    )
    reproduce.set_defaults(func=_reproduce)

    recipes = commands.add_parser("recipes", help="list the bundled recipes")
    recipes.set_defaults(func=_recipes)
    return parser


def _data_flags(parser: argparse.ArgumentParser) -> None:
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


def _train(args: argparse.Namespace) -> int:
    from contrastlab.commands.train import run_train

    return run_train(args)


def _eval(args: argparse.Namespace) -> int:
    from contrastlab.commands.evaluate import run_eval

    with run_lock(_run_written(args), "contrastlab eval"):
        return run_eval(args)


def _embed(args: argparse.Namespace) -> int:
    from contrastlab.commands.embed import run_embed

    with run_lock(_run_written(args), "contrastlab embed"):
        return run_embed(args)


def _analyze(args: argparse.Namespace) -> int:
    from contrastlab.commands.analyze import run_analyze

    with run_lock(_run_written(args), "contrastlab analyze"):
        return run_analyze(args)


def _run_written(args: argparse.Namespace) -> Path | None:
    """The run directory `eval`/`embed`/`analyze` write into (TARGET without --out), which they
    lock as `train` does: a run being trained or resumed is not written by a second process."""
    target = Path(args.target)
    is_run = (target / "config.yaml").is_file()  # not a folder that merely exists
    return target if args.out is None and is_run else None


def _reproduce(args: argparse.Namespace) -> int:
    from contrastlab.commands.reproduce import run_reproduce

    return run_reproduce(args)


def _recipes(args: argparse.Namespace) -> int:
    from contrastlab.commands.recipes import run_recipes

    return run_recipes(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ContrastlabError as exc:
        print(f"contrastlab: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a failing disk or file system: say which file, keep the run
        where = f": {exc.filename}" if exc.filename else ""
        print(f"contrastlab: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("contrastlab: interrupted; the last checkpoint is intact", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
