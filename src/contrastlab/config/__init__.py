"""Recipes: the typed settings of a run, and how they are read from YAML and the command line."""

from contrastlab.config.load import (
    DEFAULT_RECIPE,
    METHOD_RECIPES,
    apply_overrides,
    build_recipe,
    dump_recipe,
    find_recipe,
    list_recipes,
    load_recipe,
    parse_override,
    read_yaml,
    recipe_to_dict,
)
from contrastlab.config.schema import (
    DataConfig,
    EvalConfig,
    MethodConfig,
    ModelConfig,
    OptimConfig,
    Recipe,
    TrainConfig,
)

__all__ = [
    "DEFAULT_RECIPE",
    "METHOD_RECIPES",
    "DataConfig",
    "EvalConfig",
    "MethodConfig",
    "ModelConfig",
    "OptimConfig",
    "Recipe",
    "TrainConfig",
    "apply_overrides",
    "build_recipe",
    "dump_recipe",
    "find_recipe",
    "list_recipes",
    "load_recipe",
    "parse_override",
    "read_yaml",
    "recipe_to_dict",
]
