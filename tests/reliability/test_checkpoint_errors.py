"""A checkpoint that cannot be used is reported in one line naming the file and what is wrong:
empty, lacking the entries a command reads (its recipe), or holding weights of another shape
(naming the keys); a metrics.json that is a directory is named, not the atomic write's temporary
file. The checkpoints are built in-process from a tiny recipe's network (no training)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import torch

from contrastlab.config import METHOD_RECIPES, dump_recipe, load_recipe, recipe_to_dict
from contrastlab.methods import build_method
from contrastlab.train.checkpoint import weights_mismatch

if TYPE_CHECKING:
    from conftest import CliError


TINY = [
    ("data.options", {"n_train": 32, "n_test": 32}),
    ("data.image_size", 16),
    ("model.width", 0.0625),
    ("model.head_out_dim", 16),
    ("method.moco.queue_size", 32),
    ("method.classes", 6),  # what `train` sets from the shapes data (resume compares it)
    ("train.epochs", 1),
    ("train.batch_size", 16),
    ("train.progress", False),
    ("eval.protocols", ["knn"]),
    ("eval.random_baseline", False),
]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A run directory (config.yaml, checkpoints/last.pt) of an untrained tiny MoCo, and the
    entries `eval`, `embed` and `analyze` read from its checkpoint."""
    recipe = load_recipe(METHOD_RECIPES["moco"], TINY)
    state: dict[str, Any] = {"model": build_method(recipe).state_dict(), "epoch": 0}
    state["recipe"] = recipe_to_dict(recipe)
    run = tmp_path_factory.mktemp("made") / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(dump_recipe(recipe))
    torch.save(state, run / "checkpoints" / "last.pt")
    return run, state


def test_an_empty_checkpoint_says_so(cli_error: CliError, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pt"
    empty.touch()
    message = cli_error("eval", str(empty), "--out", str(tmp_path / "e.json"))
    assert message.endswith(
        f"cannot read checkpoint {empty}: the file is empty (0 bytes), so it holds no weights"
    )


@pytest.mark.parametrize(
    "command",
    [["eval"], ["embed", "--map", "none"], ["analyze", "covariance"]],
)
def test_a_checkpoint_without_its_recipe_is_named(
    cli_error: CliError,
    tmp_path: Path,
    made: tuple[Path, dict[str, Any]],
    command: list[str],
) -> None:
    """Every command that rebuilds the network from a checkpoint (a KeyError traceback before)."""
    _, state = made
    bare = tmp_path / "bare.pt"
    torch.save({key: value for key, value in state.items() if key != "recipe"}, bare)
    out = tmp_path / ("out.npz" if command[0] == "embed" else "out")
    message = cli_error(*_argv(command, bare, out))
    assert f"{bare} lacks the checkpoint entry 'recipe'" in message
    assert not out.exists()


def _argv(command: list[str], target: Path, out: Path) -> list[str]:
    """``eval T``, ``embed T --map none``, ``analyze KIND T`` with ``--out``."""
    head, flags = (command, []) if command[0] != "embed" else (command[:1], command[1:])
    return [*head, str(target), *flags, "--out", str(out)]


def test_resume_names_the_entries_a_checkpoint_lacks(
    cli_error: CliError, tmp_path: Path, made: tuple[Path, dict[str, Any]]
) -> None:
    """`train --resume` reads the optimiser, schedule, ... (a KeyError traceback before)."""
    run = Path(shutil.copytree(made[0], tmp_path / "run"))
    before = (run / "checkpoints" / "last.pt").read_bytes()
    message = cli_error("train", "--resume", str(run))
    checkpoint = run / "checkpoints" / "last.pt"
    assert f"{checkpoint} lacks the checkpoint entries 'optimizer', " in message
    assert (run / "checkpoints" / "last.pt").read_bytes() == before


def test_weights_of_another_shape_name_the_keys(
    cli_error: CliError, tmp_path: Path, made: tuple[Path, dict[str, Any]]
) -> None:
    _, state = made
    weights = dict(state["model"])
    first, second = list(weights)[:2]
    del weights[first]
    weights["extra.weight"] = torch.zeros(1)
    weights[second] = torch.zeros(7, 3)
    other = tmp_path / "other.pt"
    torch.save({**state, "model": weights}, other)
    message = cli_error("eval", str(other), "--out", str(tmp_path / "e.json"))
    expected_shape = list(state["model"][second].shape)
    assert message.endswith(
        f"{other} does not fit its own recipe: missing 1 key: {first}; unexpected 1 key: "
        f"extra.weight; {second} is [7, 3] in the checkpoint, {expected_shape} in the network"
    )


def test_a_long_mismatch_stays_short() -> None:
    expected = {f"layer{i}.weight": torch.zeros(2) for i in range(40)}
    found = {f"other{i}.weight": torch.zeros(3) for i in range(40)}
    found["layer0.weight"] = torch.zeros(3)
    text = weights_mismatch(expected, found)
    assert text == (
        "missing 39 keys: layer1.weight, layer2.weight, layer3.weight and 36 more; "
        "unexpected 40 keys: other0.weight, other1.weight, other2.weight and 37 more; "
        "layer0.weight is [3] in the checkpoint, [2] in the network"
    )
    assert weights_mismatch(expected, dict(expected)) == ""


def test_a_metrics_json_directory_is_named(
    cli_error: CliError, tmp_path: Path, made: tuple[Path, dict[str, Any]]
) -> None:
    """`eval RUN` merges into RUN/metrics.json: the rename over a directory fails, and the
    message names metrics.json and why, not the temporary file beside it."""
    run = Path(shutil.copytree(made[0], tmp_path / "run"))
    (run / "metrics.json").mkdir()
    message = cli_error("eval", str(run), "--no-baseline")
    assert message == (
        f"contrastlab: error: cannot replace a directory with a file: {run / 'metrics.json'}"
    )
    assert not list(run.glob(".*.tmp")) and not any((run / "metrics.json").iterdir())
