"""Recipes: strict keys and types, overrides, round trip through config.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from contrastlab.config import (
    DEFAULT_RECIPE,
    apply_overrides,
    build_recipe,
    dump_recipe,
    list_recipes,
    load_recipe,
    parse_override,
)
from contrastlab.core.errors import ConfigError
from contrastlab.core.method_registry import METHODS


def test_every_bundled_recipe_loads_and_round_trips() -> None:
    paths = list_recipes()
    assert DEFAULT_RECIPE in [p.stem for p in paths]
    for path in paths:
        recipe = load_recipe(str(path))
        assert recipe.name == path.stem, f"{path.name}: name must match the file name"
        again = build_recipe(yaml.safe_load(dump_recipe(recipe)))
        assert again == recipe


def test_recipe_names_follow_the_convention() -> None:
    for path in list_recipes():
        method, backbone, dataset, schedule = path.stem.split("_")
        assert method in METHODS and backbone.startswith("resnet") and schedule.endswith("e")
        assert load_recipe(str(path)).method.name == method
        assert dataset


def test_override_parsing_and_types() -> None:
    assert parse_override("optim.lr=0.3") == ("optim.lr", 0.3)
    assert parse_override("train.progress=false") == ("train.progress", False)
    assert parse_override("data.source=../x/y.tar.gz") == ("data.source", "../x/y.tar.gz")
    assert parse_override("data.limit=null") == ("data.limit", None)
    recipe = load_recipe(DEFAULT_RECIPE, [("optim.lr", 1), ("augment.crop_scale", [0.2, 1.0])])
    assert recipe.optim.lr == 1.0 and isinstance(recipe.optim.lr, float)
    assert recipe.augment.crop_scale == (0.2, 1.0)


def test_exponent_floats_are_numbers(tmp_path: Path) -> None:
    # PyYAML follows YAML 1.1, where `1e-4` (no dot) is a string; recipes read it as a number.
    assert parse_override("optim.weight_decay=1e-4") == ("optim.weight_decay", 1e-4)
    assert parse_override("optim.lr=-2E+3")[1] == -2000.0
    assert parse_override("data.source=1e-4x")[1] == "1e-4x"
    default = load_recipe(DEFAULT_RECIPE)
    path = tmp_path / "r.yaml"
    path.write_text(dump_recipe(default).replace("weight_decay:", "weight_decay: 3e-6 #"))
    assert load_recipe(str(path)).optim.weight_decay == 3e-6


def test_free_form_source_options() -> None:
    tree = apply_overrides({}, [("data.options.n_train", 500)])
    assert build_recipe(tree).data.options == {"n_train": 500}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (("optim.lrr", 0.1), "unknown key 'optim.lrr' (did you mean 'optim.lr'?)"),
        (("trian.epochs", 1), "unknown key 'trian' (did you mean 'train'?)"),
        (("train.epochs", "ten"), "train.epochs must be an integer, got 'ten'"),
        (("train.epochs", 2.5), "train.epochs must be an integer"),
        (("optim.name", "lamb"), "optim.name must be one of sgd, lars, adam; got 'lamb'"),
        (("method.temperature", 0), "method.temperature must be > 0, got 0.0"),
        (("train.batch_size", 1), "train.batch_size must be at least 2, got 1"),
        (("augment.crop_scale", [0.5]), "augment.crop_scale must be a list of 2 values"),
        (("train", 3), "train must be a mapping of keys"),
    ],
)
def test_bad_overrides_name_the_key(override: tuple[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_recipe(DEFAULT_RECIPE, [override])
    assert message in str(info.value)


def test_unknown_recipe_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown recipe 'simclr_nope'.*contrastlab recipes"):
        load_recipe("simclr_nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad.yaml is not valid YAML"):
        load_recipe(str(bad))
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_recipe(str(listing))


def test_malformed_set() -> None:
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("optim.lr")
