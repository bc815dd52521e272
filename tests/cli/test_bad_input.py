"""Bad input: one clear line on stderr, exit code 2, no traceback, no run directory left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from contrastlab.cli import main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err.strip()
    return code, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("contrastlab: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


def test_missing_path(
    tmp_path: Path, tiny_model_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    out = tmp_path / "run"
    code, err = run_cli(
        ["train", "--data", str(missing), "--out", str(out), *tiny_model_args], capsys
    )
    assert_one_line_error(code, err, str(missing))
    assert not out.exists()


def test_empty_folder(
    tmp_path: Path, tiny_model_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = run_cli(
        ["train", "--data", str(empty), "--out", str(tmp_path / "run"), *tiny_model_args], capsys
    )
    assert_one_line_error(code, err, str(empty))


def test_unreadable_image_is_named(
    tmp_path: Path, tiny_model_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "images"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(root / cls / f"{i}.png")
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not an image")
    code, err = run_cli(
        ["train", "--data", str(root), "--out", str(tmp_path / "run"), *tiny_model_args], capsys
    )
    assert_one_line_error(code, err, "broken.png")


def test_batch_larger_than_data(
    tmp_path: Path, tiny_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code, err = run_cli(["train", "--out", str(out), *tiny_args, "--batch-size", "500"], capsys)
    assert_one_line_error(code, err, "train.batch_size 500", "96 training images")
    assert not out.exists()


def test_unknown_recipe_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(["train", "--recipe", "simclr_nothing"], capsys)
    assert_one_line_error(code, err, "unknown recipe 'simclr_nothing'")
    code, err = run_cli(["train", "--set", "optim.lrr=0.3"], capsys)
    assert_one_line_error(code, err, "unknown key 'optim.lrr'", "did you mean 'optim.lr'")
    code, err = run_cli(["train", "--set", "train.epochs=many"], capsys)
    assert_one_line_error(code, err, "train.epochs must be an integer")


def test_existing_run_is_not_overwritten(
    tmp_path: Path, tiny_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "1", "--stop-after", "1", *tiny_args]) == 0
    capsys.readouterr()
    before = (out / "checkpoints" / "last.pt").read_bytes()
    code, err = run_cli(["train", "--out", str(out), *tiny_args], capsys)
    assert_one_line_error(code, err, "already holds a run", "--resume")
    assert (out / "checkpoints" / "last.pt").read_bytes() == before


def test_eval_of_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(["eval", str(tmp_path / "nope")], capsys)
    assert_one_line_error(code, err, "no run directory or checkpoint")
    code, err = run_cli(["train", "--resume", str(tmp_path)], capsys)
    assert_one_line_error(code, err, "not a run directory")


def test_console_script_exit_code(tmp_path: Path) -> None:
    """The installed entry point itself: exit status 2 and a single line, as a user sees it."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "contrastlab.cli", "train", "--data", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()
