"""A tiny trained run shared by the command tests: trained once per module, copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from contrastlab.cli import main


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trained")


@pytest.fixture
def run(trained_runs: Path, tmp_path: Path, tiny_args: list[str]) -> Path:
    """A one-epoch run of the tiny recipe, a fresh copy for each test (they write into it)."""
    trained = trained_runs / "run"
    if not trained.exists():
        assert main(["train", "--out", str(trained), "--epochs", "1", *tiny_args]) == 0
    return Path(shutil.copytree(trained, tmp_path / "run"))
