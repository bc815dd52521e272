"""Loading a recipe is bounded in time and memory, and every numeric setting out of its range is
refused in one line (exit 2) before any work: no data made, no run directory."""

from __future__ import annotations

import dataclasses
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from contrastlab.cli import main
from contrastlab.config import DEFAULT_RECIPE, dump_recipe, load_recipe, parse_override, read_yaml
from contrastlab.config.recipe_yaml import MAX_DEPTH, MAX_RECIPE_BYTES
from contrastlab.config.schema import Recipe
from contrastlab.core.errors import ConfigError, ContrastlabError


def alias_bomb(levels: int) -> str:
    """'Billion laughs': each level is a mapping of ten aliases of the one before, so the tree
    has 10**levels leaves; the keys are unknown, so only expanding it finds anything wrong."""
    lines = ["l0: &l0 {" + ", ".join(f"k{i}: x" for i in range(10)) + "}"]
    for level in range(1, levels):
        refs = ", ".join(f"k{i}: *l{level - 1}" for i in range(10))
        lines.append(f"l{level}: &l{level} {{{refs}}}")
    return "\n".join(lines) + "\n"


def refused_cheaply(path: Path) -> tuple[str, float, int]:
    """The error of loading `path`, the seconds it took and the peak bytes allocated."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ConfigError) as info:
            load_recipe(str(path))
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return str(info.value), seconds, peak


def test_alias_bomb_is_refused_at_its_first_anchor_in_bounded_time_and_memory(
    tmp_path: Path,
) -> None:
    # 10**6 leaves: expanded, tens of MB and about a second; refused, nothing
    small = tmp_path / "bomb6.yaml"
    small.write_text(alias_bomb(6))
    message, seconds, peak = refused_cheaply(small)
    assert message.startswith(f"recipe {small}, line 1: YAML anchor &l0 is not allowed"), message
    assert seconds < 0.5 and peak < 2**20, (seconds, peak)
    # the issue's size (10**9 leaves, 3 GB and half a minute when expanded): the same refusal
    issue = tmp_path / "bomb9.yaml"
    issue.write_text(alias_bomb(9))
    assert len(issue.read_bytes()) < 1000
    message, seconds, peak = refused_cheaply(issue)
    assert "line 1: YAML anchor &l0 is not allowed" in message
    assert seconds < 0.5 and peak < 2**20, (seconds, peak)


def test_set_values_refuse_anchors_and_aliases() -> None:
    with pytest.raises(ConfigError, match=r"^--set data.options, line 1: YAML anchor &a is not"):
        parse_override("data.options={a: &a [1, 2], b: *a}")
    with pytest.raises(ConfigError, match=r"^--set data.source, line 1: YAML alias \*x is not"):
        parse_override("data.source=*x")


def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    recipe = tmp_path / "deep.yaml"
    recipe.write_text("data:\n  options:\n    x: " + "[" * 20_000 + "]" * 20_000 + "\n")
    with pytest.raises(ConfigError, match=rf"deep.yaml, line 3: nested more than {MAX_DEPTH}"):
        read_yaml(recipe)
    with pytest.raises(ConfigError, match=r"--set data\.options, line 1: nested more than"):
        parse_override("data.options=" + "{a: " * 5000 + "1" + "}" * 5000)


def test_huge_and_binary_recipe_files_are_refused(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    huge.write_text("# padding\n" * (MAX_RECIPE_BYTES // 10 + 1))
    with pytest.raises(ConfigError, match=r"huge.yaml is larger than 1024 KiB"):
        read_yaml(huge)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"train:\n  epochs: \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"binary.yaml is not UTF-8 text \(byte 17"):
        read_yaml(binary)


def test_bundled_recipes_and_written_configs_load_through_the_bounded_reader(
    tmp_path: Path,
) -> None:
    from contrastlab.config import list_recipes

    for path in list_recipes():
        recipe = load_recipe(str(path))  # no bundled recipe uses an anchor
        written = tmp_path / f"{path.stem}.yaml"
        written.write_text(dump_recipe(recipe))  # what a run directory's config.yaml holds
        assert load_recipe(str(written)) == recipe


# -- every number of the schema ------------------------------------------------------------------


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, tuple) and value else value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_fields(section: object, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, default value) of every int/float field (tuples of them too) of the tree."""
    found: list[tuple[str, Any]] = []
    for field in dataclasses.fields(section):  # type: ignore[arg-type]
        value = getattr(section, field.name)
        key = f"{prefix}{field.name}"
        if dataclasses.is_dataclass(value):
            found += _number_fields(value, f"{key}.")
        elif _is_number(_first(value)):
            found.append((key, value))
    return found


NUMBERS = _number_fields(Recipe())
FLOATS = [(key, value) for key, value in NUMBERS if isinstance(_first(value), float)]
FLOATS += [("method.supcon.base_temperature", None), ("optim.clip_grad_norm", None)]


def _swap(value: Any, bad: object) -> Any:
    """`bad` in place of a number, or of the first number of a tuple."""
    return [bad, *value[1:]] if isinstance(value, tuple) else bad


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
@pytest.mark.parametrize(("key", "value"), FLOATS, ids=[key for key, _ in FLOATS])
def test_every_float_setting_must_be_finite(key: str, value: Any, bad: float) -> None:
    with pytest.raises(ConfigError) as info:
        load_recipe(DEFAULT_RECIPE, [(key, _swap(value, bad))])
    assert str(info.value).startswith(f"{key} must be a finite number, got "), info.value


NULLABLE_INTS = (
    "data.limit",
    "data.eval_limit",
    "model.head_hidden_dim",
    "method.classes",
    "eval.cluster_k",
)
INTS = [(key, value) for key, value in NUMBERS if isinstance(_first(value), int)]
INTS += [(key, None) for key in NULLABLE_INTS]


@pytest.mark.parametrize(("key", "value"), INTS, ids=[key for key, _ in INTS])
def test_every_integer_setting_has_an_upper_bound(key: str, value: Any) -> None:
    """A 20-digit value would overflow torch (or allocate without end): refused naming the key."""
    with pytest.raises(ConfigError) as info:
        load_recipe(DEFAULT_RECIPE, [(key, _swap(value, 10**20))])
    assert str(info.value).startswith(f"{key} must be "), info.value
    assert "got 100000000000000000000" in str(info.value) or "got (100000000000000000000" in str(
        info.value
    ), info.value


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.seed=-1", "train.seed must be in [0, 4294967295], got -1"),
        ("train.seed=4294967296", "train.seed must be in [0, 4294967295], got 4294967296"),
        ("data.image_size=100000", "data.image_size must be in [8, 4096], got 100000"),
        ("data.workers=100000", "data.workers must be in [0, 64], got 100000"),
        ("model.head_layers=1000000", "model.head_layers must be in [1, 16], got 1000000"),
        ("method.moco.queue_size=1073741824", "method.moco.queue_size must be in [1, 1048576]"),
        ("method.classes=1000000", "method.classes must be null or in [2, 100000]"),
        ("method.iic.repeats=1000", "method.iic.repeats must be in [1, 100], got 1000"),
        ("data.options.n_train=1e9", "option n_train=1000000000.0 for data source shapes must"),
        ("data.options.n_train=-5", "option n_train=-5 for data source shapes must be an integ"),
        ("data.options.seed=-1", "option seed=-1 for data source shapes must be an integer >="),
        ("data.options.frames=0", "unknown option 'frames' for data source shapes"),
    ],
)
def test_out_of_range_values_are_refused(override: str, message: str) -> None:
    with pytest.raises(ContrastlabError) as info:
        load_recipe(DEFAULT_RECIPE, [parse_override(override)])
    assert str(info.value).startswith(message), info.value


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.options.n_train=1000000000"], "would make 1000002000 images of 32x32"),
        (["data.image_size=4096"], "would make 12000 images of 4096x4096, about 562.5 GiB"),
        (
            ["data.source=sequences", "data.options={n_sequences: 100000000, frames: 16}"],
            "data source sequences would make 1600001600 images",
        ),
        (["data.source=digits", "data.image_size=4096"], "would make 1797 images of 4096x4096"),
    ],
)
def test_generated_data_that_cannot_fit_in_memory_is_refused(
    overrides: list[str], message: str
) -> None:
    with pytest.raises(ContrastlabError, match="more than this machine's") as info:
        load_recipe(DEFAULT_RECIPE, [parse_override(text) for text in overrides])
    assert message in str(info.value)


def test_a_large_but_fitting_generated_set_passes_validation() -> None:
    """The memory bound refuses only what cannot fit: 200000 images of 32x32 are 117 MiB."""
    recipe = load_recipe(DEFAULT_RECIPE, [("data.options.n_train", 200_000)])
    assert recipe.data.options == {"n_train": 200_000}


# -- through the command line ----------------------------------------------------------------

ISSUE_VALUES = [
    ("train.seed=-1", "train.seed must be in [0, 4294967295], got -1"),
    ("train.seed=12345678901234567890", "train.seed must be in [0, 4294967295], got 1234567890"),
    ("optim.warmup_epochs=.inf", "optim.warmup_epochs must be a finite number, got inf"),
    ("data.options.n_train=1e9", "option n_train=1000000000.0 for data source shapes must be"),
    ("data.image_size=100000", "data.image_size must be in [8, 4096], got 100000"),
    ("data.workers=100000", "data.workers must be in [0, 64], got 100000"),
    ("optim.lr=.inf", "optim.lr must be a finite number, got inf"),
    ("optim.weight_decay=.inf", "optim.weight_decay must be a finite number, got inf"),
    ("method.temperature=.inf", "method.temperature must be a finite number, got inf"),
]


@pytest.mark.parametrize(("override", "message"), ISSUE_VALUES, ids=[o for o, _ in ISSUE_VALUES])
def test_issue_values_stop_train_in_one_line_without_a_run_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, message: str
) -> None:
    out = tmp_path / "run"
    assert main(["train", "moco", "--out", str(out), "--set", override]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"contrastlab: error: {message}"), err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "method.temperature=.inf"], "method.temperature must be a finite number"),
        pytest.param(
            ["--recipe", "BOMB"], "line 1: YAML anchor &l0 is not allowed", marks=pytest.mark.slow
        ),
    ],
)
def test_the_cli_process_exits_2_with_one_line(
    tmp_path: Path, harness: Any, args: list[str], message: str
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb(9))
    out = tmp_path / "run"
    args = [str(bomb) if arg == "BOMB" else arg for arg in args]
    line = harness.error(harness.cli("train", "--out", str(out), *args))
    assert message in line, line
    assert not out.exists()
