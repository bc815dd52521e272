"""Train a recipe into a run directory: `train_recipe` for a new run, `resume_run` to continue one.

The same calls serve `contrastlab train`, the reproductions and the aligned-start study (through
``prepare``, a hook that changes the fresh network before training). A run's directory is
claimed (locked) from before anything is written until the call returns; evaluation and the
run's report follow the last epoch unless ``evaluate=False``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from contrastlab.api.adapt import fit_to_data
from contrastlab.api.budget import sized_to_budget
from contrastlab.api.data import PreparedData, prepare_data
from contrastlab.api.evaluation import evaluate_with_baseline, method_metrics
from contrastlab.api.resume import check_resumable, resumed_recipe
from contrastlab.config import dump_recipe
from contrastlab.config.schema import Recipe
from contrastlab.core.atomic import atomic_write_text
from contrastlab.core.errors import ConfigError
from contrastlab.core.hardware import half_precision_warning
from contrastlab.data import ImageTensors
from contrastlab.evaluate.baseline_check import baseline_summary
from contrastlab.methods import build_method, method_representation
from contrastlab.methods.parts import require_labels
from contrastlab.models.layout_check import check_channels_last
from contrastlab.report import write_report
from contrastlab.train.checkpoint import load_checkpoint
from contrastlab.train.launch import Launch, barrier, from_environment, join, leave
from contrastlab.train.pairs import temporal_pairs
from contrastlab.train.rundir import RunDir
from contrastlab.train.trainer import Trainer, check_batch_size, local_batch_size, resolve_device

__all__ = [
    "ADAPTED",
    "BAD_IMAGES",
    "Fitting",
    "TrainResult",
    "check_labels_for",
    "resume_run",
    "train_recipe",
    "with_classes",
]

BAD_IMAGES = "bad_images.txt"  # in the run directory, with data.on_bad_image=skip
ADAPTED = "adapted.json"  # in the run directory: what fitting to the data and --budget decided

# called with the fresh network, the recipe and the training images before training starts;
# what it returns is kept in `TrainResult.prepared`
Prepare = Callable[[nn.Module, Recipe, ImageTensors], dict[str, Any]]


@dataclass
class TrainResult:
    """What a training call left: its run directory, the recipe it trained, the epoch it
    reached, the trainer's history, and (after the last epoch, when evaluated) the metrics of
    ``metrics.json``."""

    run: RunDir
    recipe: Recipe
    epoch: int
    history: list[dict[str, Any]]
    metrics: dict[str, Any] | None = None
    eval_note: str = ""
    prepared: dict[str, Any] = field(default_factory=dict)
    adaptations: list[str] = field(default_factory=list)  # what `Fitting` changed, in words

    @property
    def finished(self) -> bool:
        return self.epoch >= self.recipe.train.epochs


@dataclass(frozen=True)
class Fitting:
    """How a new run fits its recipe to the data before training: ``adapt`` the bundled recipe
    to the user's images (`api.adapt.fit_to_data`), leaving the ``pinned`` keys alone, and size
    the run to ``budget_seconds`` of training (`api.budget`)."""

    adapt: bool = False
    pinned: frozenset[str] = frozenset()
    budget_seconds: float | None = None


def train_recipe(
    recipe: Recipe,
    out: Path | None = None,
    *,
    stop_after: int | None = None,
    evaluate: bool = True,
    prepare: Prepare | None = None,
    launch: Launch | None = None,
    fitting: Fitting | None = None,
) -> TrainResult:
    """Train ``recipe`` in a new run directory ``out`` (default ``runs/NAME-TIME``): data,
    method, training, then (after the last epoch, with ``evaluate``) evaluation and the run's
    report. ``stop_after=K`` stops resumably after epoch K; ``launch`` is the torchrun
    process group (default: read from the environment); ``fitting`` adapts the recipe to the
    data and to a time budget once the data is decoded (the run's config.yaml records the
    result)."""
    launch = launch or from_environment()
    run = RunDir.new(out, recipe.name)
    claim = run.claim("contrastlab train", fresh=True) if launch.writes else nullcontext()
    with claim:
        return _train(run, recipe, launch, False, stop_after, evaluate, prepare, fitting)


def resume_run(
    path: Path,
    overrides: Sequence[tuple[str, Any]] = (),
    *,
    stop_after: int | None = None,
    launch: Launch | None = None,
) -> TrainResult:
    """Continue the run in ``path`` from its last checkpoint, with the recipe it recorded
    (``overrides`` may change only what leaves the trajectory alone: `api.resume`)."""
    launch = launch or from_environment()
    run = RunDir.open(path)
    claim = run.claim("contrastlab train", fresh=False) if launch.writes else nullcontext()
    with claim:  # under the lock: no other process is rewriting config.yaml
        recipe = resumed_recipe(run, list(overrides))
        return _train(run, recipe, launch, True, stop_after, True, None, None)


def _train(
    run: RunDir,
    recipe: Recipe,
    launch: Launch,
    resume: bool,
    stop_after: int | None,
    evaluate: bool,
    prepare: Prepare | None,
    fitting: Fitting | None,
) -> TrainResult:
    """Everything after the run directory is settled: data, method, training, evaluation."""
    progress = recipe.train.progress and launch.writes
    _check_processes(recipe, launch.world)  # before any process waits for the others
    device = join(launch, resolve_device(recipe.train.device))
    slow = half_precision_warning(recipe.train.precision, device)
    _say(launch.writes and slow is not None, slow or "")
    barrier()  # every rank has checked the run directory before rank 0 writes into it
    data = prepare_data(recipe.data, progress=progress)
    recipe, notes = _adapted(recipe, data.train, fitting)
    _check_processes(recipe, launch.world)  # again: the fitted batch (every rank fits alike)
    check_batch_size(recipe.train.batch_size, data.train)
    recipe = with_classes(recipe, data.train)
    check_labels_for(recipe, data.train)
    method = build_method(recipe)
    method_representation(method, recipe.eval.representation)  # a bad name fails before training
    if fitting is not None and fitting.budget_seconds is not None:
        recipe, budget = sized_to_budget(recipe, method, data.train, device, fitting.budget_seconds)
        notes = {**notes, "budget": budget.as_dict(), "notes": [*notes["notes"], budget.sentence()]}
    for note in notes["notes"]:
        _say(launch.writes, f"fitted to the data: {note}")
    prepared = {} if prepare is None else prepare(method, recipe, data.train)
    check_channels_last(recipe.train.channels_last, method, device)
    pairs = None
    if recipe.method.facts.sequences:
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
        notes = _record_adapted(run, notes, resume)
    where = f"device {device}" + (f", {launch.world} processes" if launch.world > 1 else "")
    _say(progress, f"run directory: {run.path}  ({len(data.train)} training images, {where})")
    trainer.fit(stop_after=stop_after)
    leave()  # evaluation and reports: rank 0 alone, as one process on the whole test set
    history = [dict(row) for row in trainer.history]
    result = TrainResult(run, recipe, trainer.epoch, history, None, data.eval_note, prepared)
    result.adaptations = list(notes["notes"])
    if not launch.writes or not evaluate:
        return result
    if not result.finished:
        _say(
            True,
            f"stopped after epoch {trainer.epoch}/{recipe.train.epochs}; "
            f"continue with: contrastlab train --resume {run.path}",
        )
        return result
    result.metrics = _finish(result, trainer, data, device, notes)
    return result


def _finish(
    result: TrainResult, trainer: Trainer, data: PreparedData, device: Any, notes: dict[str, Any]
) -> dict[str, Any]:
    """After the last epoch: evaluate, then write metrics.json and the report."""
    run, recipe = result.run, result.recipe
    metrics: dict[str, Any] = {
        "epochs": trainer.epoch,
        "steps": trainer.step,
        "train_seconds": round(trainer.train_seconds, 2),
    }
    metrics["final_loss"] = trainer.history[-1]["loss"] if trainer.history else None
    metrics["skipped_images"] = len(data.skipped)
    metrics["skipped_steps"] = trainer.skipped  # non-finite steps left out (on_nonfinite=skip)
    metrics["adaptations"] = notes["notes"]
    if "budget" in notes:
        metrics["budget"] = notes["budget"]
    metrics.update(_evaluate(recipe, trainer.method, data, device, run))
    atomic_write_text(run.metrics_json, json.dumps(metrics, indent=2) + "\n")
    write_report(run, recipe, metrics, trainer.history, data.eval_note)
    return metrics


def _write_config(run: RunDir, recipe: Recipe) -> None:
    """config.yaml: the recipe this run trains with (rewritten on resume only if it changed)."""
    text = dump_recipe(recipe)
    if not run.config.is_file() or run.config.read_text() != text:
        atomic_write_text(run.config, text)


def _adapted(
    recipe: Recipe, data: ImageTensors, fitting: Fitting | None
) -> tuple[Recipe, dict[str, Any]]:
    """The recipe fitted to the training data (`Fitting.adapt`), and what changed."""
    if fitting is None or not fitting.adapt:
        return recipe, {"notes": []}
    budgeted = fitting.budget_seconds is not None
    adapted = fit_to_data(recipe, data, fitting.pinned, budgeted=budgeted)
    return adapted.recipe, {"notes": adapted.notes}


def _record_adapted(run: RunDir, notes: dict[str, Any], resume: bool) -> dict[str, Any]:
    """RUN/adapted.json: what the fitting decided, written by a new run and read back by a
    resumed one (whose recipe, from config.yaml, already holds the decisions)."""
    path = run.path / ADAPTED
    if resume:
        if not path.is_file():
            return {"notes": []}
        recorded: dict[str, Any] = json.loads(path.read_text())
        return recorded
    if notes["notes"]:
        atomic_write_text(path, json.dumps(notes, indent=2) + "\n")
    return notes


def _check_processes(recipe: Recipe, world: int) -> None:
    """Before any process waits for the others: the global batch must split evenly, and MoCo's
    split batch norm must split each process's share."""
    local = local_batch_size(recipe.train.batch_size, world)
    method, splits = recipe.method, recipe.method.moco.bn_splits
    if world > 1 and method.queue and local % splits:
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
    if not recipe.method.facts.labels or classes is None:
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
    out.update(baseline_summary(out))  # does the trained encoder beat its baselines?
    return out


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(message, file=sys.stderr)
