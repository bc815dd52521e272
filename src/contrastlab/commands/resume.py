"""Resuming a run: its checkpoint must hold the network this run's recipe builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contrastlab.config.load import recipe_to_dict
from contrastlab.config.schema import Recipe
from contrastlab.errors import CheckpointError

__all__ = ["check_same_network"]


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
