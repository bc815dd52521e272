"""Reading recipes: YAML files, ``--set key=value`` overrides, and strict conversion to `Recipe`.

Every key is checked against the dataclass tree in `schema`: an unknown key is refused with a
did-you-mean suggestion, a value of the wrong type with the type that was expected.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from contrastlab.config.recipe_yaml import load_yaml, read_recipe_text
from contrastlab.config.schema import Recipe
from contrastlab.core.checks import did_you_mean
from contrastlab.core.errors import ConfigError
from contrastlab.core.method_registry import METHODS

T = TypeVar("T")
DEFAULT_RECIPE = METHODS["simclr"].cpu_recipe
# `contrastlab train METHOD` -> the method's CPU recipe
METHOD_RECIPES = {name: method.cpu_recipe for name, method in METHODS.items()}


def recipes_dir() -> Path:
    """The folder of bundled recipes (``configs/`` in the repository)."""
    return Path(str(resources.files("contrastlab") / "configs"))


def list_recipes() -> list[Path]:
    return sorted(recipes_dir().glob("*.yaml"))


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in a recipe file, read by the bounded loader of `recipe_yaml`."""
    text = read_recipe_text(path)
    try:
        data = load_yaml(text, f"recipe {path}")
    except yaml.YAMLError as exc:
        raise ConfigError(f"recipe {path} is not valid YAML: {_one_line(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"recipe {path} must hold a mapping of keys, got {type(data).__name__}")
    return data


def find_recipe(name_or_path: str) -> Path:
    """A bundled recipe by name (with or without ``.yaml``) or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    bundled = recipes_dir() / f"{name_or_path.removesuffix('.yaml')}.yaml"
    if bundled.exists():
        return bundled
    names = [p.stem for p in list_recipes()]
    hint = did_you_mean(name_or_path, names)
    raise ConfigError(
        f"unknown recipe {name_or_path!r}{hint}: give a YAML file or one of "
        f"`contrastlab recipes` ({', '.join(names)})"
    )


def parse_override(text: str) -> tuple[str, Any]:
    """``'optim.lr=0.3'`` -> ``('optim.lr', 0.3)``; the value is parsed as YAML (by the bounded
    loader: an anchor or alias is refused), or kept as the string it is when it is not YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects KEY=VALUE (e.g. optim.lr=0.3), got {text!r}")
    try:
        value = load_yaml(raw, f"--set {key.strip()}") if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def apply_overrides(tree: dict[str, Any], overrides: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Set dotted keys in a nested dict (a copy); the keys are checked later, by `build_recipe`."""
    out = _deep_copy(tree)
    for dotted, value in overrides:
        node = out
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return out


def build_recipe(tree: Mapping[str, Any]) -> Recipe:
    """Convert a nested mapping to a validated `Recipe` (unknown keys and bad types refused)."""
    recipe = _convert(Recipe, tree, "")
    recipe.validate()
    return recipe


def load_recipe(name_or_path: str, overrides: Iterable[tuple[str, Any]] = ()) -> Recipe:
    path = find_recipe(name_or_path)
    return build_recipe(apply_overrides(read_yaml(path), overrides))


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """Plain YAML-safe data (tuples become lists), the form written to ``config.yaml``."""
    return _plain(dataclasses.asdict(recipe))


def dump_recipe(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe_to_dict(recipe), sort_keys=False)


# -- conversion ---------------------------------------------------------------------------------


def _convert(cls: type[T], data: Any, prefix: str) -> T:
    where = prefix.rstrip(".") or "the recipe"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping of keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in data:
        if key not in fields:
            full = f"{prefix}{key}"
            hint = did_you_mean(full, [f"{prefix}{name}" for name in fields])
            raise ConfigError(
                f"unknown key {full!r}{hint}; valid keys here: {', '.join(sorted(fields))}"
            )
    kwargs = {key: _value(hints[key], value, f"{prefix}{key}") for key, value in data.items()}
    return cls(**kwargs)


def _value(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _convert(tp, value, f"{key}.")  # type: ignore[arg-type]
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _value(inner[0], value, key)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            hint = did_you_mean(str(value), [str(c) for c in choices])
            raise ConfigError(
                f"{key} must be one of {', '.join(map(str, choices))}; got {value!r}{hint}"
            )
        return value
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], v, key) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"{key} must be a list of {len(args)} values, got {value!r}")
        return tuple(_value(a, v, key) for a, v in zip(args, value, strict=True))
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    return _scalar(tp, value, key)


def _scalar(tp: Any, value: Any, key: str) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - a schema type this converter does not know
        raise TypeError(f"unsupported config type {tp!r} for {key}")
    raise ConfigError(f"{key} must be {_type_name(tp)}, got {value!r}")


def _type_name(tp: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[tp]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _deep_copy(tree: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in tree.items()}


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
