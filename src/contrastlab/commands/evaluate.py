"""`contrastlab eval RUN_DIR_OR_CHECKPOINT`: the frozen-feature protocols on any trained encoder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from contrastlab.commands.datasets import prepare_data
from contrastlab.commands.evaluation import evaluate_with_baseline, method_metrics
from contrastlab.commands.train import overrides_from
from contrastlab.config import apply_overrides, build_recipe
from contrastlab.errors import CheckpointError, DataError
from contrastlab.methods import build_method, method_representation
from contrastlab.report import results_table
from contrastlab.train.checkpoint import atomic_write_text, load_checkpoint
from contrastlab.train.rundir import RunDir
from contrastlab.train.trainer import resolve_device


def checkpoint_path(target: Path) -> tuple[Path, RunDir | None]:
    """A run directory's ``checkpoints/last.pt``, or the checkpoint file itself."""
    if target.is_dir():
        run = RunDir.open(target)
        if not run.checkpoint.is_file():
            raise CheckpointError(f"{target} has no checkpoint yet (checkpoints/last.pt)")
        return run.checkpoint, run
    if target.is_file():
        return target, None
    raise CheckpointError(f"no run directory or checkpoint at {target}")


def run_eval(args: argparse.Namespace) -> int:
    path, run = checkpoint_path(Path(args.target))
    state = load_checkpoint(path)
    recipe = build_recipe(apply_overrides(state["recipe"], overrides_from(args)))
    device = resolve_device(recipe.train.device)
    method = build_method(recipe)
    name = recipe.eval.representation
    method_representation(method, name)  # a bad name fails before any data is read
    try:
        method.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise CheckpointError(
            f"{path} does not fit its own recipe: {str(exc).splitlines()[0]}"
        ) from None
    data = prepare_data(recipe.data, progress=recipe.train.progress)
    if data.test is None:
        raise DataError(
            f"nothing to evaluate on: {data.eval_note} (give labelled --data and --eval-data)"
        )
    random = None if args.no_baseline else build_method(recipe)
    random_encoder = None if random is None else method_representation(random, name).to(device)
    metrics: dict[str, Any] = {
        "checkpoint": str(path),
        "epochs": state["epoch"],
        "data": recipe.data.source,
        "eval_data": data.eval_note,
        "representation": name,
    }
    encoder = method_representation(method, name).to(device)
    metrics.update(evaluate_with_baseline(recipe, encoder, random_encoder, data, device))
    metrics.update(method_metrics(recipe, method, random, data, device))
    out = Path(args.out) if args.out else (run.path / "eval.json" if run else None)
    if out is not None:
        atomic_write_text(out, json.dumps(metrics, indent=2) + "\n")
    print(
        f"{path} (epoch {state['epoch']}), held-out data: {data.eval_note} "
        f"({metrics['n_test']} images)\n"
    )
    print(results_table(metrics, k=recipe.eval.knn_k, temperature=recipe.eval.knn_temperature))
    if out is not None:
        print(f"\nwritten to {out}")
    return 0
