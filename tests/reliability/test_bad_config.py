"""Bad configuration stops `contrastlab train` with exit code 2 and one line naming the key,
before any data is read or any directory is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from contrastlab.cli import main

CASES = [
    (["--set", "optim.lrr=0.1"], "unknown key 'optim.lrr' (did you mean 'optim.lr'?)"),
    (["--set", "trian.epochs=3"], "unknown key 'trian' (did you mean 'train'?)"),
    (["--set", "optim.lr=abc"], "optim.lr must be a number, got 'abc'"),
    (["--set", "train.epochs=2.5"], "train.epochs must be an integer, got 2.5"),
    (["--set", "train=3"], "train must be a mapping of keys, got 3"),
    (["--set", "method.temperature=0"], "method.temperature must be > 0, got 0.0"),
    (["--set", "method.temperature=-0.5"], "method.temperature must be > 0, got -0.5"),
    (["--batch-size", "1"], "train.batch_size must be at least 2, got 1"),
    (
        ["--set", "method.moco.queue_size=100"],
        "method.moco.queue_size must be a multiple of the 128 keys enqueued per step",
    ),
]


@pytest.mark.parametrize(("args", "message"), CASES)
def test_bad_override_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "run"
    assert main(["train", "moco", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_bad_recipe_file_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("method:\n  name: simclr\n  temprature: 0.5\n")
    assert main(["train", "--recipe", str(recipe), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'method.temprature'" in err and "temperature" in err, err
