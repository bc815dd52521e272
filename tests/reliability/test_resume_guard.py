"""`train --resume` continues a run exactly as it began, or refuses before touching anything:
settings that change the trajectory are refused naming them (config.yaml stays byte-identical and
a plain resume still finishes), safe ones resume to the same weights; a checkpoint that does not
fit its run's recipe, epoch length or data is refused. Also: run names stay under runs/, resume
deletes only its own temporaries, one image gets a message that can be acted on, and a failed
`train` leaves no directory behind. In-process `main` (its one-line message and exit code 2)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from contrastlab.cli import main
from contrastlab.config import read_yaml
from contrastlab.train.checkpoint import load_checkpoint, save_checkpoint
from contrastlab.train.rundir import RunDir

# 64 images, batch 16: epochs of 4 steps; 2 epochs, stopped after the first
MODEL = [
    *("--epochs", "2", "--batch-size", "16"),
    *["--set", "data.image_size=16", "--set", "model.width=0.0625"],
    *["--set", "model.head_out_dim=16", "--set", "train.progress=false"],
    *["--set", "eval.protocols=[knn]", "--set", "eval.random_baseline=false"],
    *["--set", "eval.knn_k=5"],
]
TINY = [*MODEL, "--set", "data.options.n_train=64", "--set", "data.options.n_test=32"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A run stopped after epoch 1 of 2, and the same run never stopped."""
    root = tmp_path_factory.mktemp("resume_guard")
    half, whole = root / "half", root / "whole"
    assert main(["train", *TINY, "--out", str(half), "--stop-after", "1"]) == 0
    assert main(["train", *TINY, "--out", str(whole)]) == 0
    return {"half": half, "whole": whole}


@pytest.fixture
def half(trained: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained["half"], tmp_path / "run"))


def files(run: Path) -> dict[str, bytes]:
    """Every file under ``run`` with its bytes (the lock file aside: it holds the last pid)."""
    return {
        str(p.relative_to(run)): p.read_bytes()
        for p in sorted(run.rglob("*"))
        if p.is_file() and p.name != ".contrastlab.lock"
    }


def error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The one-line message of a command that exits with code 2."""
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("contrastlab: error: ") and "Traceback" not in "".join(lines)
    return lines[-1]


@pytest.mark.parametrize(
    ("sets", "named"),
    [
        (
            ["train.batch_size=32", "data.options.n_train=128"],
            ["train.batch_size: 16 recorded, 32 requested", "data.options.n_train: 64 recorded"],
        ),
        (["optim.lr=7.5"], ["optim.lr: 0.005 recorded, 7.5 requested"]),
        (["train.epochs=3"], ["train.epochs: 2 recorded, 3 requested"]),
    ],
)
def test_trajectory_change_is_refused_and_nothing_is_written(
    half: Path, capsys: pytest.CaptureFixture[str], sets: list[str], named: list[str]
) -> None:
    before = files(half)
    flags = [arg for key in sets for arg in ("--set", key)]
    message = error(capsys, ["train", "--resume", str(half), *flags])
    assert all(part in message for part in named), message
    assert files(half) == before  # config.yaml and checkpoint byte-identical
    assert main(["train", "--resume", str(half)]) == 0  # the run is not lost
    assert load_checkpoint(half / "checkpoints" / "last.pt")["epoch"] == 2


def test_safe_settings_resume_to_the_same_weights(
    trained: dict[str, Path], half: Path, harness: Any
) -> None:
    """Checkpoint frequency, logging, workers, the non-finite policy and eval settings change
    no weight: the resumed run ends as the run that never stopped, and config.yaml says so."""
    safe = [
        *("train.checkpoint_every=1", "train.log_every=1", "data.workers=1"),
        *("train.on_nonfinite=skip", "eval.knn_k=3"),
    ]
    assert main(["train", "--resume", str(half), *[a for s in safe for a in ("--set", s)]]) == 0
    mine = load_checkpoint(half / "checkpoints" / "last.pt")
    theirs = load_checkpoint(trained["whole"] / "checkpoints" / "last.pt")
    assert mine["step"] == theirs["step"] == 8
    del mine["recipe"], theirs["recipe"]  # the rest: weights, optimiser, generators, history
    harness.assert_same(mine, theirs)  # (measured timings aside)
    config = read_yaml(half / "config.yaml")
    assert config["train"]["checkpoint_every"] == 1 and config["eval"]["knn_k"] == 3


def test_config_edited_by_hand_is_refused_naming_the_checkpoints_value(
    half: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = half / "config.yaml"
    config.write_text(config.read_text().replace("lr: 0.005", "lr: 7.5"))
    before = files(half)
    message = error(capsys, ["train", "--resume", str(half)])
    assert "optim.lr: 0.005 in the checkpoint, 7.5 in config.yaml" in message
    assert files(half) == before


@pytest.mark.parametrize(
    ("change", "said"),
    [
        # the state the old code left: epoch 1 done at step 8 of 4-step epochs (an epoch of no
        # steps, UnboundLocalError), or a step before the epoch began
        ({"step": 8}, "at step 8 after 1 epochs, which does not fit epochs of 4 steps"),
        ({"step": 2}, "at step 2 after 1 epochs, which does not fit epochs of 4 steps"),
        ({"train_images": 65}, "trained on 65 images, but the training data now has 64"),
    ],
)
def test_checkpoint_that_does_not_fit_the_data_is_refused(
    half: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any], said: str
) -> None:
    checkpoint = half / "checkpoints" / "last.pt"
    save_checkpoint(checkpoint, {**load_checkpoint(checkpoint), **change})
    before = files(half)
    assert said in error(capsys, ["train", "--resume", str(half)])
    assert files(half) == before


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/escaped", ".hidden", "a/b", ".."])
def test_run_name_must_stay_under_runs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    work = tmp_path / "deep" / "er"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    message = error(capsys, ["train", *TINY, "--set", f"name={name}"])
    assert f"the recipe name {name!r} cannot name a run directory under runs/" in message
    assert "letters, digits" in message and "--out DIR" in message
    assert not list(tmp_path.rglob("*escaped*")) and not (work / "runs").exists()


def test_resume_removes_only_its_own_temporaries(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.checkpoints.mkdir()
    ours = [
        run.checkpoints / ".last.pt.k2_9xq7a.tmp",
        tmp_path / ".config.yaml.abcdefgh.tmp",
        tmp_path / ".metrics.json.0123_789.tmp",
    ]
    theirs = [
        tmp_path / ".notes.tmp",
        tmp_path / ".notes.abcdefgh.tmp",  # a name a run never writes
        tmp_path / ".config.yaml.tmp",  # no random part
        tmp_path / ".config.yaml.ABCDEFGH.tmp",  # mkstemp draws lower case only
        tmp_path / ".last.pt.abcdefgh.tmp",  # the checkpoint's temporary belongs in checkpoints/
        run.checkpoints / ".notes.abcdefgh.tmp",
    ]
    for path in ours + theirs:
        path.write_text("x")
    assert run.remove_temporaries() == sorted(ours[1:]) + ours[:1]
    assert [p for p in ours + theirs if p.exists()] == theirs


def test_one_image_says_training_needs_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "only.png")
    out = tmp_path / "made" / "run"
    message = error(capsys, ["train", *MODEL, "--data", str(folder), "--out", str(out)])
    assert "training needs at least 2 images" in message and "has 1" in message
    assert "--batch-size" not in message  # no advice to use a batch of 1
    assert not (tmp_path / "made").exists()  # nor a directory left behind


def test_failed_train_leaves_no_directory_and_keeps_the_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failure after the run directory was created and locked (the batch is checked against
    the decoded data): what this process made goes, a folder the user gave stays as it was."""
    too_big = [*TINY, "--batch-size", "128"]  # 64 images
    error(capsys, ["train", *too_big, "--out", str(tmp_path / "new" / "run")])
    assert not (tmp_path / "new").exists()
    given = tmp_path / "given"
    given.mkdir()
    (given / "notes.txt").write_text("mine")
    error(capsys, ["train", *too_big, "--out", str(given)])
    assert sorted(p.name for p in given.iterdir()) == ["notes.txt"]
