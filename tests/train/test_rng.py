"""The process-wide generators survive a checkpoint: captured, saved with weights_only-safe
types, loaded and restored, they continue exactly where they were."""

from __future__ import annotations

import io
import random

import numpy as np
import torch

from contrastlab.train.rng import capture_rng, restore_rng, seed_host_rng


def draws() -> tuple[list[float], list[float], float, float]:
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), random.random(), np.random.randn()


def test_restored_generators_continue_the_same_sequence() -> None:
    torch.manual_seed(1)
    seed_host_rng(2)
    np.random.randn()  # leaves a cached Gaussian in NumPy's legacy state
    buffer = io.BytesIO()
    torch.save(capture_rng(), buffer)
    expected = draws()
    draws()  # move on
    buffer.seek(0)
    restore_rng(torch.load(buffer, weights_only=True))
    assert draws() == expected


def test_seed_host_rng_seeds_numpy_and_python() -> None:
    seed_host_rng(5)
    first = (np.random.rand(), random.random())
    seed_host_rng(5)
    assert (np.random.rand(), random.random()) == first
