"""`contrastlab recipes`: the bundled recipes, one line each."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    recipes = subparsers.add_parser("recipes", help="list the bundled recipes")
    recipes.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """One line per bundled recipe: its name, summary and GPU recipe."""
    from contrastlab.config import DEFAULT_RECIPE, build_recipe, list_recipes, read_yaml

    paths = list_recipes()
    width = max((len(p.stem) for p in paths), default=0)
    for path in paths:
        recipe = build_recipe(read_yaml(path))
        mark = "*" if path.stem == DEFAULT_RECIPE else " "
        summary = recipe.description.strip().splitlines()[0] if recipe.description.strip() else ""
        gpu = f" [GPU: {recipe.gpu_recipe}]" if recipe.gpu_recipe else ""
        print(f"{mark} {path.stem:<{width}}  {summary}{gpu}")
    where = paths[0].parent if paths else "?"
    print(f"\n* the default of `contrastlab train`; recipes live in {where}")
    return 0
