"""Helpers the paper packages share: training one recipe over seeds, formatting figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contrastlab.reproduce.evidence import Arm
from contrastlab.reproduce.paper import Context
from contrastlab.reproduce.verdict import mean_spread

__all__ = [
    "QUICK_EVAL",
    "TINY_MODEL",
    "TINY_SHAPES",
    "checked_arm",
    "datasets_settings",
    "fmt",
    "train_seeds",
]

# what a reproduction's training runs evaluate: the figures the verdicts need, no random twin
QUICK_EVAL: dict[str, Any] = {"eval.protocols": ["knn", "linear"], "eval.random_baseline": False}


def train_seeds(
    ctx: Context,
    label: str,
    recipe: str,
    settings: Mapping[str, Any],
    seeds: Sequence[int],
    metric: str,
) -> list[float]:
    """Train ``recipe`` once per seed into ``runs/LABEL-sSEED``; ``metric`` of each run."""
    values = []
    for seed in seeds:
        metrics = ctx.workspace.train(
            f"{label}-s{seed}", recipe, {**QUICK_EVAL, **settings, "train.seed": seed}
        )
        values.append(float(metrics[metric]))
    return values


def checked_arm(
    ctx: Context, name: str, runs: Mapping[int, str], metric: str, chance: float | None
) -> Arm:
    """An `Arm` of trained runs (seed -> run name): each run's ``metric`` (``knn_top1``,
    ``linear_top1``, ...) and, for its health check, the same seed's random init read out alike,
    by ``contrastlab eval runs/RUN --protocol P`` (a cached step ``RUN-init``)."""
    protocol = metric.split("_")[0]
    values, floors = {}, {}
    for seed, run in runs.items():
        measured = ctx.workspace.evaluate(f"{run}-init", run, protocol)
        values[seed] = float(measured[metric])
        floors[seed] = float(measured[f"random_{metric}"])
    return Arm(name, values, floors, chance)


def fmt(values: Sequence[float], digits: int = 3) -> str:
    """``0.912 ± 0.004 (3 seeds)``, or the single value."""
    mean, spread = mean_spread(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {spread:.{digits}f} ({len(values)} seeds)"


def datasets_settings(ctx: Context, train: str, test: str) -> dict[str, Any] | None:
    """``data.source`` / ``data.eval_source`` settings for two files of the --datasets folder, or
    None when either is absent."""
    source, held_out = ctx.dataset(train), ctx.dataset(test)
    if source is None or held_out is None:
        return None
    return {"data.source": str(source), "data.eval_source": str(held_out), "data.options": {}}


# the `tiny` scale's model and loop: a smoke test of every step in seconds, no claim tested
TINY_MODEL: dict[str, Any] = {
    "data.image_size": 16,
    "model.width": 0.0625,
    "model.head_out_dim": 16,
    "train.batch_size": 32,
    "train.epochs": 1,
    "eval.knn_k": 20,
    "eval.batch_size": 64,
}
TINY_SHAPES: dict[str, Any] = {**TINY_MODEL, "data.options": {"n_train": 96, "n_test": 48}}
