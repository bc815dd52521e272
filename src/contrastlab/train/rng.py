"""The process-wide random number generators (torch, CUDA, NumPy, Python), captured for a checkpoint
and restored on resume.

The training loop draws its own randomness from generators it owns (the epoch order, the view
maker's ``Trainer.generator``), so these global ones matter only to code that uses them: dropout in
a custom backbone, a user's augmentation. They are saved anyway, so that such code resumes exactly.
The states are kept as tensors and plain values, which ``torch.load(weights_only=True)`` reads.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

__all__ = ["capture_rng", "restore_rng", "seed_host_rng"]


def seed_host_rng(seed: int) -> None:
    """Seed NumPy's and Python's global generators (torch's is seeded where the model is built,
    `contrastlab.methods.build_method`), so that a fresh run's global state is reproducible too."""
    np.random.seed(seed)
    random.seed(seed)


def capture_rng() -> dict[str, Any]:
    name, keys, position, has_gauss, cached = np.random.get_state(legacy=True)
    return {
        "torch": torch.get_rng_state(),
        # only when CUDA is in use: asking for the state would initialise it
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": random.getstate(),
    }


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    cuda = state["cuda"]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    numpy = state["numpy"]
    keys = numpy["keys"].numpy().astype(np.uint32)
    np.random.set_state(
        (
            numpy["name"],
            keys,
            numpy["position"],
            numpy["has_gauss"],
            numpy["cached_gaussian"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
