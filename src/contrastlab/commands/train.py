"""`contrastlab train`: build a recipe's method, train it in a run directory, evaluate, report
(the library calls: `contrastlab.api.training.train_recipe` and `resume_run`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contrastlab.commands.args import data_flags, overrides_from
from contrastlab.core.errors import ConfigError
from contrastlab.core.method_registry import METHODS

if TYPE_CHECKING:
    from contrastlab.api.training import Fitting, TrainResult
    from contrastlab.train.launch import Launch


def add_parser(subparsers: Any) -> None:
    train = subparsers.add_parser(
        "train", help="train an encoder (SimCLR on the built-in shapes by default)"
    )
    train.add_argument(
        "method",
        nargs="?",
        choices=list(METHODS),
        help="train this method with its CPU recipe (default: simclr; --recipe picks any "
        f"recipe): {', '.join(METHODS)}",
    )
    train.add_argument(
        "--recipe", help="a bundled recipe name (see `contrastlab recipes`) or a YAML file"
    )
    data_flags(train)
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
        "--budget",
        metavar="DURATION",
        help="train for about this long (90s, 10m, 1.5h): the run measures its own step time "
        "and fixes its length (train.epochs in config.yaml) from it",
    )
    train.add_argument(
        "--no-adapt",
        action="store_true",
        help="with --data: keep the bundled recipe exactly as it is (by default it is fitted to "
        "your images: grey augmentation, batch and steps for small data, named after the data)",
    )
    train.add_argument(
        "--stop-after",
        type=int,
        metavar="EPOCH",
        help="stop (resumably) once EPOCH epochs are done",
    )
    train.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train (one process, or one rank of a torchrun launch), then evaluate and report.

    The writing process holds the run directory's lock from before anything is written until
    it ends (`RunDir.claim`); a run that fails before writing anything leaves no directory."""
    from contrastlab.api.adapt import named_for_data
    from contrastlab.api.training import resume_run, train_recipe
    from contrastlab.config import load_recipe
    from contrastlab.train.launch import from_environment

    overrides = overrides_from(args)
    launch = from_environment()
    args = _continuing_restart(args, launch)
    if args.resume is not None:
        if args.out is not None or args.recipe is not None or getattr(args, "method", None):
            raise ConfigError(
                "--resume continues a run with its own recipe and directory; "
                "drop METHOD/--recipe/--out"
            )
        if args.budget is not None:
            raise ConfigError(
                "--budget sizes a new run; a resumed run keeps the length it was given "
                "(train.epochs in its config.yaml)"
            )
        result = resume_run(Path(args.resume), overrides, stop_after=args.stop_after, launch=launch)
    else:
        recipe = load_recipe(_recipe_name(args), overrides)
        fitting = _fitting(args, [key for key, _ in overrides])
        if fitting.adapt:
            recipe = named_for_data(recipe, recipe.data.source, fitting.pinned)
        out = Path(args.out) if args.out else None
        result = train_recipe(
            recipe, out, stop_after=args.stop_after, launch=launch, fitting=fitting
        )
    if result.metrics is not None:
        _print_summary(result)
    return 0


def _continuing_restart(args: argparse.Namespace, launch: Launch) -> argparse.Namespace:
    """After torchrun restarted the workers (--max-restarts), the same command line continues
    the run they were making in --out: the arguments of ``--resume OUT``."""
    from contrastlab.train.rundir import RunDir

    if not (
        launch.restarts
        and args.resume is None
        and args.out
        and RunDir(Path(args.out)).config.is_file()
    ):
        return args
    _say(launch.writes, f"torchrun restart {launch.restarts}: resuming the run in {args.out}")
    args = argparse.Namespace(**{**vars(args), "resume": args.out, "out": None})
    args.recipe, args.method = None, None
    return args


def _fitting(args: argparse.Namespace, pinned: list[str]) -> Fitting:
    """Adapt a bundled recipe (the default or METHOD's, not one given by --recipe) to --data
    when it names the user's images (not a built-in set), unless --no-adapt; size the run to
    --budget when given."""
    from contrastlab.api.budget import parse_budget
    from contrastlab.api.training import Fitting
    from contrastlab.data import BUILTIN_SOURCES

    seconds = None if args.budget is None else parse_budget(args.budget)
    users = args.data is not None and args.data not in BUILTIN_SOURCES
    adapt = users and args.recipe is None and not args.no_adapt
    return Fitting(adapt=adapt, pinned=frozenset(pinned), budget_seconds=seconds)


def _recipe_name(args: argparse.Namespace) -> str:
    """--recipe, else the CPU recipe of the METHOD argument, else the default recipe."""
    from contrastlab.config import DEFAULT_RECIPE, METHOD_RECIPES, find_recipe, read_yaml

    name = getattr(args, "method", None)
    if args.recipe is None:
        return METHOD_RECIPES[name] if name else DEFAULT_RECIPE
    if name is not None:
        recipe_method = read_yaml(find_recipe(args.recipe)).get("method", {}).get("name", "simclr")
        if recipe_method != name:
            raise ConfigError(
                f"`contrastlab train {name}` was given --recipe {args.recipe}, whose method.name "
                f"is {recipe_method!r}; drop one of them"
            )
    return str(args.recipe)


def _print_summary(result: TrainResult) -> None:
    """The results table, one line per baseline the trained encoder does not beat (or one line
    saying it beats them all), and where the report is."""
    from contrastlab.evaluate.baseline_check import warning_lines
    from contrastlab.report import results_table

    metrics = result.metrics or {}
    name, epochs, seconds = result.recipe.name, metrics["epochs"], metrics["train_seconds"]
    print(f"\n{name}: {epochs} epochs ({metrics.get('steps')} steps) in {seconds:.0f} s")
    for note in result.adaptations:
        print(f"fitted to the data: {note}")
    if "n_test" in metrics:
        print(f"held-out data: {result.eval_note} ({metrics['n_test']} images)\n")
        print(results_table(metrics))
        for line in warning_lines(metrics.get("baseline_check", {})):
            print(line)
    else:
        print(f"no evaluation: {result.eval_note}")
    print(f"\nreport: {result.run.report}")


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(message, file=sys.stderr)
