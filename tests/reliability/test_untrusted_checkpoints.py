"""Checkpoints are read with ``weights_only=True``: one that carries a pickled object is refused
by every command that loads one, without running it, and one made by another method or network is
refused naming what differs."""

from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

import contrastlab
from contrastlab import cli
from contrastlab.api.analyze import ANALYSES


class RunsCode:
    """Unpickling this runs a shell command (what a malicious checkpoint would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, harness: Any) -> Path:
    """A finished run of the small MoCo recipe, 1 epoch."""
    out = tmp_path_factory.mktemp("finished") / "run"
    harness.ok(harness.cli(*harness.train, "--epochs", "1", "--out", str(out)))
    return out


# Every command that loads a checkpoint (`contrastlab --help`, each command's help, and the
# callers of load_checkpoint / load_model): RUN is the run whose last.pt carries the payload, GOOD
# an untouched run. `reproduce` loads only the runs it trains itself, through these same paths
# (load_model, `train --resume`); test_every_torch_load_is_weights_only covers any other.
COMMANDS = {
    "train --resume": ["train", "--resume", "RUN"],
    "eval": ["eval", "RUN", "--protocol", "knn", "--no-baseline"],
    "embed": ["embed", "RUN", "--map", "none"],
    **{f"analyze {kind}": ["analyze", kind, "RUN", "--no-baseline"] for kind in ANALYSES},
    "analyze cka --other": ["analyze", "cka", "GOOD", "--other", "RUN", "--out", "OUT"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_pickled_code_is_refused_and_never_runs(
    harness: Any,
    finished: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    """In-process (`cli.main`): the refusal comes before any data or model is built."""
    run = Path(shutil.copytree(finished, tmp_path / "run"))
    marker = tmp_path / "pwned"
    good = harness.checkpoint(run)
    evil = run / "checkpoints" / "last.pt"
    torch.save({**good, "extra": RunsCode(marker)}, evil)
    places = {"RUN": str(run), "GOOD": str(finished), "OUT": str(tmp_path / "out")}
    code = cli.main([places.get(arg, arg) for arg in COMMANDS[command]])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    message = err.strip().splitlines()[-1]
    assert message.startswith(f"contrastlab: error: refused to load {evil}: ")
    assert "pickled Python object (posix.system)" in message and "weights_only=True" in message
    assert not marker.exists()


def test_every_torch_load_is_weights_only() -> None:
    """The one `torch.load` of the package is load_checkpoint's, with weights_only=True: a new
    reader of checkpoints cannot skip the guard unnoticed."""
    package = Path(contrastlab.__file__).parent
    calls: dict[str, str | None] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
                calls[f"{path.relative_to(package)}:{node.lineno}"] = keywords.get("weights_only")
    assert list(calls.values()) == ["True"], calls
    assert all(place.startswith("train/checkpoint.py:") for place in calls), calls


@pytest.mark.parametrize(
    ("args", "differs"),
    [
        (["train", "simclr"], "method.name: 'moco' in the checkpoint, 'simclr' in this run"),
        pytest.param(
            ["train", "moco", "--set", "model.width=0.125"],
            "model.width: 0.0625 in the checkpoint, 0.125 in this run",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            ["train", "moco", "--set", "model.backbone=resnet34"],
            "model.backbone: 'resnet18' in the checkpoint, 'resnet34' in this run",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_checkpoint_of_another_network_is_refused_naming_the_difference(
    harness: Any, finished: Path, tmp_path: Path, args: list[str], differs: str
) -> None:
    """Another run's directory (made with --stop-after 0) given this run's checkpoint."""
    other = tmp_path / "other"
    tiny = harness.train[2:]  # the small recipe's flags, without `train moco`
    command = [*args[:2], *tiny, *args[2:], "--stop-after", "0", "--out", str(other)]
    harness.ok(harness.cli(*command))
    shutil.copy(finished / "checkpoints" / "last.pt", other / "checkpoints" / "last.pt")
    message = harness.error(harness.cli("train", "--resume", str(other)))
    assert "was made by another network than this run's recipe" in message
    assert differs in message
