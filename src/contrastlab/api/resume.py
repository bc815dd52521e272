"""Resuming a run: it continues exactly as it began, or it is refused before anything is written.

A resumed run must end as the run would have ended without the interruption (bit for bit on the
CPU), and its ``config.yaml`` must say what trained it. So `train --resume RUN --set KEY=VALUE`
may change only settings that cannot change a single weight (`SAFE_ON_RESUME`); any other
change is refused naming each key with its recorded and requested values, before the run
directory is touched. The checkpoint is then checked against the recipe it continues with: the
same network, the same trajectory settings (a hand-edited config.yaml is caught here) and the
same number of training images.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from contrastlab.config import apply_overrides, build_recipe, read_yaml, recipe_to_dict
from contrastlab.config.schema import Recipe
from contrastlab.core.errors import CheckpointError, ConfigError
from contrastlab.train.rundir import RunDir

__all__ = [
    "SAFE_ON_RESUME",
    "check_resumable",
    "check_same_network",
    "resumed_recipe",
    "trajectory_changes",
]

# Settings a resume may change: none of them changes a weight, an optimiser state or the order
# of the data. Progress and logging output; how often checkpoints are written (saving reads the
# state, it draws nothing); decoding workers (the images decode the same in any order); where the
# run computes (`device`, `channels_last`: the same computation, though other hardware rounds
# differently); what to do at a non-finite step (a run that got here had none, and the advice on
# stopping at one is to resume with `train.on_nonfinite=skip`); labels (`name`, `description`);
# and `eval.*`, read only by the evaluation after training. Everything else (the data and its
# split, augmentation, model, method, optimiser, schedule, `train.epochs` (the cosine schedule
# spans all epochs), batch size, seed, precision, sync_bn) decides the trajectory.
SAFE_ON_RESUME = (
    *("name", "description", "gpu_recipe", "data.workers"),
    *("train.progress", "train.log_every", "train.checkpoint_every", "train.device"),
    *("train.channels_last", "train.on_nonfinite", "train.max_skips_in_a_row", "eval.*"),
)
_MISSING = "(unset)"


def resumed_recipe(run: RunDir, overrides: list[tuple[str, Any]]) -> Recipe:
    """The recipe of ``run`` (its config.yaml) with ``overrides``, which may change only the
    settings in `SAFE_ON_RESUME`; reads, writes nothing."""
    recorded = read_yaml(run.config)
    before = build_recipe(recorded)
    after = build_recipe(apply_overrides(recorded, overrides))
    changed = trajectory_changes(before, after)
    if changed:
        listed = "; ".join(
            f"{key}: {old!r} recorded, {new!r} requested" for key, old, new in changed
        )
        raise ConfigError(
            f"--resume {run.path} cannot change what the run trains with ({listed}): a resumed "
            "run continues exactly as it began; drop these settings, or start a new run with "
            f"them. A resume may change only {', '.join(SAFE_ON_RESUME)}"
        )
    return after


def check_resumable(state: dict[str, Any], recipe: Recipe, images: int, path: Path) -> None:
    """Refuse checkpoint ``path`` (loaded as ``state``) unless ``recipe``, with ``images``
    training images, continues it: same network, same trajectory settings, same data size."""
    check_same_network(state, recipe, path)
    saved = state.get("recipe")
    if isinstance(saved, dict):
        try:
            trained = build_recipe(saved)
        except ConfigError as exc:
            raise CheckpointError(f"{path} records a recipe that is not valid now: {exc}") from None
        changed = trajectory_changes(trained, recipe)
        if changed:
            listed = "; ".join(
                f"{key}: {old!r} in the checkpoint, {new!r} in config.yaml"
                for key, old, new in changed
            )
            raise CheckpointError(
                f"{path} was trained with other settings than its run's config.yaml ({listed}); "
                "put the checkpoint's values back into config.yaml, or start a new run"
            )
    recorded = state.get("train_images")  # checkpoints from before it was recorded lack it
    if recorded is not None and int(recorded) != images:
        raise CheckpointError(
            f"{path} was trained on {recorded} images, but the training data now has {images}: "
            f"the data of {recipe.data.source} changed since; resume with the same images, or "
            "start a new run"
        )


def trajectory_changes(before: Recipe, after: Recipe) -> list[tuple[str, Any, Any]]:
    """The settings that differ between two recipes, other than those safe to change on resume,
    as (dotted key, value in ``before``, value in ``after``)."""
    return [
        (key, old, new)
        for key, old, new in _differences(before, after, "")
        if not _safe_on_resume(key)
    ]


def check_same_network(state: dict[str, Any], recipe: Recipe, path: Path) -> None:
    """Refuse a checkpoint made by another method or another backbone/head than ``recipe``'s,
    naming each setting that differs (checkpoint value vs the run's)."""
    saved = state.get("recipe")
    if not isinstance(saved, dict):
        return  # no recipe recorded: the weights' shapes are checked when they are loaded
    ours = recipe_to_dict(recipe)
    differs = []
    method = saved.get("method", {}).get("name")
    if method != ours["method"]["name"]:
        differs.append(("method.name", method, ours["method"]["name"]))
    model = saved.get("model", {})
    for key, value in ours["model"].items():
        if key in model and model[key] != value:
            differs.append((f"model.{key}", model[key], value))
    if differs:
        listed = "; ".join(
            f"{key}: {mine!r} in the checkpoint, {theirs!r} in this run"
            for key, mine, theirs in differs
        )
        raise CheckpointError(
            f"{path} was made by another network than this run's recipe ({listed}); "
            "resume it from its own run directory, or start a new run"
        )


def _safe_on_resume(key: str) -> bool:
    return any(
        key == safe or (safe.endswith(".*") and key.startswith(safe[:-1]))
        for safe in SAFE_ON_RESUME
    )


def _differences(before: Any, after: Any, key: str) -> Iterator[tuple[str, Any, Any]]:
    """Each leaf that differs, by dotted key: recipe sections field by field, free-form
    mappings (``data.options``) key by key."""
    if dataclasses.is_dataclass(before) and type(before) is type(after):
        for field in dataclasses.fields(before):
            name = f"{key}.{field.name}" if key else field.name
            yield from _differences(getattr(before, field.name), getattr(after, field.name), name)
    elif isinstance(before, Mapping) and isinstance(after, Mapping):
        for name in sorted({*before, *after}, key=str):
            old, new = before.get(name, _MISSING), after.get(name, _MISSING)
            yield from _differences(old, new, f"{key}.{name}")
    elif before != after:
        yield key, _plain(before), _plain(after)


def _plain(value: Any) -> Any:
    """Tuples as the lists config.yaml shows."""
    return list(value) if isinstance(value, tuple) else value
