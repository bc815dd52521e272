"""Shared fixtures: a tiny, fast recipe for end-to-end runs of the CLI."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence

import pytest

SHAPES_SMALL = ["--set", "data.options.n_train=96", "--set", "data.options.n_test=48"]
TINY_MODEL = [
    "--set",
    "data.image_size=16",
    "--set",
    "model.width=0.0625",
    "--set",
    "model.head_out_dim=16",
    "--set",
    "train.progress=false",
    "--set",
    "eval.knn_k=20",
    "--set",
    "eval.batch_size=64",
    "--batch-size",
    "32",
]


@pytest.fixture
def tiny_args() -> list[str]:
    """CLI arguments that make the default recipe (shapes) train in about a second."""
    return SHAPES_SMALL + TINY_MODEL


@pytest.fixture
def tiny_model_args() -> list[str]:
    """The small model and loop of `tiny_args`, for other data than shapes."""
    return list(TINY_MODEL)


RunTogether = Callable[[Sequence[Sequence[str]]], list[str]]


def _run_together(commands: Sequence[Sequence[str]], timeout: float = 300) -> list[str]:
    """Run ``commands`` as concurrent processes (the ranks of a gloo group, one thread each);
    their outputs, or a failure that shows the output of the first command that failed."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        for cmd in commands
    ]
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=timeout)[0])
    finally:
        for proc in procs:
            proc.kill()
    for cmd, proc, output in zip(commands, procs, outputs, strict=True):
        assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{output[-4000:]}"
    return outputs


@pytest.fixture(scope="session")
def run_together() -> RunTogether:
    """`_run_together`: start processes side by side and wait for all of them."""
    return _run_together
