"""The reliability suite's harness: the real CLI in a subprocess with one fault injected
(`fault_entry.py`), a small MoCo run, and bit-for-bit comparison of what runs leave on disk."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from contrastlab.cli import main
from contrastlab.evaluate.suite import unprefixed

ENTRY = Path(__file__).with_name("fault_entry.py")
# MoCo (its queue is state), 96 images, batch 16: 2 epochs of 6 steps, a checkpoint every 2 steps
# (after steps 2, 4, 6 = the end of epoch 1, 8, 10 and 12)
TRAIN = [
    *("train", "moco", "--data", "shapes", "--epochs", "2", "--batch-size", "16"),
    *["--set", "data.options.n_train=96", "--set", "data.options.n_test=48"],
    *["--set", "data.image_size=16", "--set", "model.width=0.0625"],
    *["--set", "model.head_out_dim=16", "--set", "method.moco.queue_size=64"],
    *["--set", "train.checkpoint_every=2", "--set", "train.progress=false"],
    *["--set", "eval.protocols=[knn]", "--set", "eval.random_baseline=false"],
]
FP16 = ["--set", "train.precision=fp16"]  # its GradScaler backs off in these runs: state at stake
TIMINGS = {"train_seconds", "seconds", "images_per_s"}  # measured, not computed


class Harness:
    train = TRAIN
    fp16 = FP16

    def cli(self, *args: str, fault: str = "") -> subprocess.CompletedProcess[str]:
        """``contrastlab ARGS`` in a fresh process, with FAULT (see fault_entry.py)."""
        env = {**os.environ, "OMP_NUM_THREADS": "1", "FAULT": fault}
        command = [sys.executable, str(ENTRY), *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)

    def ok(self, done: subprocess.CompletedProcess[str]) -> str:
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        return done.stderr

    def error(self, done: subprocess.CompletedProcess[str]) -> str:
        """The one-line message of a run that exited with code 2 (no traceback)."""
        assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-3000:]
        lines = done.stderr.strip().splitlines()
        assert "Traceback" not in done.stderr and lines[-1].startswith("contrastlab: error: ")
        return lines[-1]

    def checkpoint(self, run: Path) -> dict[str, Any]:
        state: dict[str, Any] = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
        return state

    def rows(self, run: Path) -> list[dict[str, str]]:
        """metrics.csv without its timing columns."""
        with (run / "metrics.csv").open() as handle:
            rows = csv.DictReader(handle)
            return [{k: v for k, v in row.items() if not timing(k)} for row in rows]

    def assert_same(self, actual: Any, expected: Any, where: str = "") -> None:
        """Equal nested checkpoint or metrics entries: tensors bit for bit, timings skipped."""
        if isinstance(expected, dict):
            assert isinstance(actual, dict) and set(actual) == set(expected), where
            for key, value in expected.items():
                if not timing(key):
                    self.assert_same(actual[key], value, f"{where}.{key}")
        elif isinstance(expected, list | tuple):
            assert len(actual) == len(expected), where
            for index, (mine, theirs) in enumerate(zip(actual, expected, strict=True)):
                self.assert_same(mine, theirs, f"{where}[{index}]")
        elif isinstance(expected, torch.Tensor):
            assert torch.equal(actual, expected), f"{where} differs"
        else:
            assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def timing(key: object) -> bool:
    """Measured durations: train_seconds, eval_seconds, seconds_knn, pixels_seconds_knn, ..."""
    if not isinstance(key, str):
        return False
    key = unprefixed(key)  # the baselines' own timings: pixels_seconds_knn
    return key in TIMINGS or key.startswith("seconds_") or key.endswith("_seconds")


@pytest.fixture(scope="session")
def harness() -> Harness:
    return Harness()


@pytest.fixture(scope="session")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, harness: Harness) -> Path:
    """The small fp16 MoCo run, never interrupted: what every interrupted run must end as."""
    out = tmp_path_factory.mktemp("clean") / "run"
    harness.ok(harness.cli(*TRAIN, *FP16, "--out", str(out)))
    return out


@pytest.fixture(scope="session")
def uninterrupted_fp32(tmp_path_factory: pytest.TempPathFactory, harness: Harness) -> Path:
    """The same run in fp32 (the non-finite guards' own checks run without a GradScaler)."""
    out = tmp_path_factory.mktemp("clean32") / "run"
    harness.ok(harness.cli(*TRAIN, "--out", str(out)))
    return out


CliError = Callable[..., str]


@pytest.fixture
def cli_error(capsys: pytest.CaptureFixture[str]) -> CliError:
    """``cli_error(*argv)``: run `contrastlab ARGV` in-process, assert exit 2 with one line
    ``contrastlab: error: ...`` and no traceback, and return that line."""

    def run(*argv: str) -> str:
        assert main(list(argv)) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.count("\n") == 1, err
        assert err.startswith("contrastlab: error: ")
        return err.strip()

    return run
