"""Shared fixtures: a tiny, fast recipe for end-to-end runs of the CLI."""

from __future__ import annotations

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
