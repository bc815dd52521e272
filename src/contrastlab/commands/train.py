"""`contrastlab train`: build a recipe's method, train it in a run directory, evaluate, report."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from contrastlab.commands.datasets import PreparedData, prepare_data
from contrastlab.commands.evaluation import evaluate_with_baseline, method_metrics
from contrastlab.commands.resume import check_resumable, resumed_recipe
from contrastlab.config import (
    DEFAULT_RECIPE,
    METHOD_RECIPES,
    dump_recipe,
    find_recipe,
    load_recipe,
    parse_override,
    read_yaml,
)
from contrastlab.config.schema import Recipe
from contrastlab.data import ImageTensors
from contrastlab.errors import ConfigError
from contrastlab.hardware import half_precision_warning
from contrastlab.layout_check import check_channels_last
from contrastlab.methods import build_method, method_representation
from contrastlab.methods.parts import require_labels
from contrastlab.report import results_table, write_report
from contrastlab.train.checkpoint import atomic_write_text, load_checkpoint
from contrastlab.train.launch import Launch, barrier, from_environment, join, leave
from contrastlab.train.pairs import temporal_pairs
from contrastlab.train.rundir import RunDir
from contrastlab.train.trainer import (
    Trainer,
    check_batch_size,
    local_batch_size,
    resolve_device,
)

BAD_IMAGES = "bad_images.txt"  # in the run directory, with data.on_bad_image=skip
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
    pairs = [parse_override(text) for text in args.set or []]
    pairs += [
        (key, getattr(args, flag))
        for flag, key in SHORT_FLAGS.items()
        if getattr(args, flag, None) is not None
    ]
    return pairs


def run_train(args: argparse.Namespace) -> int:
    """Train (one process, or one rank of a torchrun launch), then evaluate and report.

    The writing process holds the run directory's lock from before anything is written until
    it ends (`RunDir.claim`); a run that fails before writing anything leaves no directory."""
    overrides = overrides_from(args)
    launch = from_environment()
    args = _continuing_restart(args, launch)
    resume = args.resume is not None
    if resume:
        if args.out is not None or args.recipe is not None or getattr(args, "method", None):
            raise ConfigError(
                "--resume continues a run with its own recipe and directory; "
                "drop METHOD/--recipe/--out"
            )
        run = RunDir.open(Path(args.resume))
    else:
        recipe = load_recipe(_recipe_name(args), overrides)
        run = RunDir.new(Path(args.out) if args.out else None, recipe.name)
    claim = run.claim("contrastlab train", fresh=not resume) if launch.writes else nullcontext()
    with claim:
        if resume:  # under the lock: no other process is rewriting config.yaml
            recipe = resumed_recipe(run, overrides)
        return _train(args, run, recipe, launch)


def _continuing_restart(args: argparse.Namespace, launch: Launch) -> argparse.Namespace:
    """After torchrun restarted the workers (--max-restarts), the same command line continues
    the run they were making in --out: the arguments of ``--resume OUT``."""
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


def _train(args: argparse.Namespace, run: RunDir, recipe: Recipe, launch: Launch) -> int:
    """Everything after the run directory is settled: data, method, training, evaluation."""
    resume = args.resume is not None
    progress = recipe.train.progress and launch.writes
    _check_processes(recipe, launch.world)
    device = join(launch, resolve_device(recipe.train.device))
    slow = half_precision_warning(recipe.train.precision, device)
    _say(launch.writes and slow is not None, slow or "")
    barrier()  # every rank has checked the run directory before rank 0 writes into it
    data = prepare_data(recipe.data, progress=progress)
    check_batch_size(recipe.train.batch_size, data.train)
    recipe = with_classes(recipe, data.train)
    check_labels_for(recipe, data.train)
    method = build_method(recipe)
    method_representation(method, recipe.eval.representation)  # a bad name fails before training
    check_channels_last(recipe.train.channels_last, method, device)
    pairs = None
    if recipe.method.name == "temporal":
        pairs = temporal_pairs(data.train, recipe.method.temporal.max_gap)
    if not launch.writes:
        recipe = _quiet(recipe)
    trainer = Trainer(recipe, method, data.train, run.make(), device, pairs=pairs)
    if resume and run.checkpoint.exists():
        state = load_checkpoint(run.checkpoint)
        check_resumable(state, recipe, len(data.train), run.checkpoint)
        trainer.load_state_dict(state)
        _say(launch.writes, f"resumed {run.path} after step {trainer.step}")
    if launch.writes:  # the resume is known to work: only now is anything written
        if resume:
            for path in run.remove_temporaries():
                _say(True, f"removed {path}, a partial write of the interrupted run")
        _write_config(run, recipe)
        _record_skipped(run, data.skipped)
    where = f"device {device}" + (f", {launch.world} processes" if launch.world > 1 else "")
    _say(progress, f"run directory: {run.path}  ({len(data.train)} training images, {where})")
    trainer.fit(stop_after=args.stop_after)
    leave()  # evaluation and reports: rank 0 alone, as one process on the whole test set
    if not launch.writes:
        return 0
    method = trainer.method
    if trainer.epoch < recipe.train.epochs:
        _say(
            True,
            f"stopped after epoch {trainer.epoch}/{recipe.train.epochs}; "
            f"continue with: contrastlab train --resume {run.path}",
        )
        return 0
    metrics: dict[str, Any] = {
        "epochs": trainer.epoch,
        "train_seconds": round(trainer.train_seconds, 2),
    }
    metrics["final_loss"] = trainer.history[-1]["loss"] if trainer.history else None
    metrics["skipped_images"] = len(data.skipped)
    metrics["skipped_steps"] = trainer.skipped  # non-finite steps left out (on_nonfinite=skip)
    metrics.update(_evaluate(recipe, method, data, device, run))
    atomic_write_text(run.metrics_json, json.dumps(metrics, indent=2) + "\n")
    write_report(run, recipe, metrics, trainer.history, data.eval_note)
    _print_summary(recipe, metrics, data, run)
    return 0


def _write_config(run: RunDir, recipe: Recipe) -> None:
    """config.yaml: the recipe this run trains with (rewritten on resume only if it changed)."""
    text = dump_recipe(recipe)
    if not run.config.is_file() or run.config.read_text() != text:
        atomic_write_text(run.config, text)


def _check_processes(recipe: Recipe, world: int) -> None:
    """Before any process waits for the others: the global batch must split evenly, and MoCo's
    split batch norm must split each process's share."""
    local = local_batch_size(recipe.train.batch_size, world)
    method, splits = recipe.method, recipe.method.moco.bn_splits
    moco_like = method.name in ("moco", "looc", "temporal") or (
        method.name == "clae" and method.clae.base == "moco"
    )
    if world > 1 and moco_like and local % splits:
        raise ConfigError(
            f"method.moco.bn_splits {splits} must divide each process's batch "
            f"(train.batch_size {recipe.train.batch_size} / {world} processes = {local}); "
            "each process's batch norm is already per device: set method.moco.bn_splits=1"
        )


def _record_skipped(run: RunDir, skipped: list[str]) -> None:
    """data.on_bad_image=skip: list what was left out in RUN/bad_images.txt, and say so."""
    if not skipped:
        return
    path = run.path / BAD_IMAGES
    atomic_write_text(path, "".join(f"{line}\n" for line in skipped))
    _say(True, f"skipped {len(skipped)} unreadable image(s), listed in {path}")


def _quiet(recipe: Recipe) -> Recipe:
    """The recipe without progress output (ranks other than 0)."""
    return dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, progress=False))


def _recipe_name(args: argparse.Namespace) -> str:
    """--recipe, else the CPU recipe of the METHOD argument, else the default recipe."""
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


def with_classes(recipe: Recipe, data: ImageTensors) -> Recipe:
    """The recipe with a null ``method.classes`` set to the training data's class count."""
    if recipe.method.classes is not None:
        return recipe
    count = max(len(data.classes), int(data.labels.max()) + 1 if len(data.labels) else 0)
    method = dataclasses.replace(recipe.method, classes=max(count, 2))
    return dataclasses.replace(recipe, method=method)


def check_labels_for(recipe: Recipe, data: ImageTensors) -> None:
    """Supervised methods (supcon, ce) need labels in [0, method.classes): check before training."""
    name, classes = recipe.method.name, recipe.method.classes
    if name not in ("supcon", "ce") or classes is None:
        return
    require_labels(data.labels, classes, name, source=data.name)


def _evaluate(
    recipe: Recipe, method: Any, data: PreparedData, device: Any, run: RunDir
) -> dict[str, Any]:
    if data.test is None:
        return {"n_train": len(data.train)}
    _say(recipe.train.progress, f"evaluating on {data.eval_note} ...")
    name = recipe.eval.representation
    random = build_method(recipe) if recipe.eval.random_baseline else None
    random_encoder = None if random is None else method_representation(random, name).to(device)
    encoder = method_representation(method, name)
    out: dict[str, Any] = {"representation": name}
    out.update(
        evaluate_with_baseline(
            recipe, encoder, random_encoder, data, device, figures=run.figures, tables=run.path
        )
    )
    out.update(method_metrics(recipe, method, random, data, device))
    return out


def _print_summary(
    recipe: Recipe, metrics: dict[str, Any], data: PreparedData, run: RunDir
) -> None:
    print(f"\n{recipe.name}: {metrics['epochs']} epochs in {metrics['train_seconds']:.0f} s")
    if "n_test" in metrics:
        print(f"held-out data: {data.eval_note} ({metrics['n_test']} images)\n")
        print(results_table(metrics))
    else:
        print(f"no evaluation: {data.eval_note}")
    print(f"\nreport: {run.report}")


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(message, file=sys.stderr)
