"""Training on 2 gloo ranks x B/2 equals training on 1 process x B, for every method (issue 9).

`ddp_worker.py` trains each method for 3 SGD steps at global batch 16 through the real `Trainer`
(DDP, gathered negatives, views drawn for the global batch, the pooled `SyncBatchNorm`) and saves
rank 0's parameters; the same script with world size 1 is the reference. It computes in float64
(its docstring says why). Batch norm computed per rank cannot match one process: the statistics of
8 images are not those of 16. So every method runs with ``train.sync_bn=true``, and
`test_per_rank_batch_norm_differs` shows the size of the gap that sync BN closes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")
METHODS = [
    "simclr",  # NT-Xent, negatives gathered with gradient
    "simclr:lse",  # generalized loss, alignment + log-sum-exp uniformity
    "simclr:swd",  # generalized loss, sliced-Wasserstein uniformity on the sphere
    "ce",
    "supcon",  # L_out, labels gathered
    "supcon:lin",  # L_in
    "moco",  # queue fed with the gathered keys, shuffle-BN across ranks
    "moco:obn",  # with the affine-free output batch norm (MoCo v3 style)
    "iic",
    "clae",  # adversarial FGSM views through the auxiliary batch norm
    "looc",  # leave-one-out augmentation spaces drawn for the global batch
    "temporal",  # partner frames drawn for the global batch
]
PER_RANK = "moco:perrank"


def load(directory: Path, name: str) -> dict[str, dict[str, torch.Tensor]]:
    out: dict[str, dict[str, torch.Tensor]] = torch.load(
        directory / f"{name}.pt", weights_only=True
    )
    return out


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, run_together: Callable[..., list[str]]
) -> tuple[Path, Path]:
    """(one-process results, two-rank results) of every method."""
    root = tmp_path_factory.mktemp("parity")
    one, two = root / "one", root / "two"
    one.mkdir()
    two.mkdir()
    names = [*METHODS, PER_RANK]
    init = str(root / "init")
    run_together(
        [
            [sys.executable, str(WORKER), "0", "1", "-", str(one), *names],
            *[[sys.executable, str(WORKER), str(r), "2", init, str(two), *names] for r in (0, 1)],
        ],
        timeout=600,
    )
    return one, two


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[key] - b[key]).abs().max().item() for key in a)


@pytest.mark.parametrize("name", METHODS)
def test_two_ranks_train_like_one_process(runs: tuple[Path, Path], name: str) -> None:
    one, two = (load(directory, name) for directory in runs)
    moved = max_difference(one["params"], one["start"])
    assert moved > 1e-3, f"{name}: 3 steps moved the parameters only {moved:.1e}"
    assert max_difference(one["start"], two["start"]) == 0.0  # the same initial model
    assert max_difference(one["params"], two["params"]) < 1e-5


def test_per_rank_batch_norm_differs(runs: tuple[Path, Path]) -> None:
    """Without sync BN each rank normalises its own 8 images: measured 2.5e-2 after 3 steps."""
    one, two = (load(directory, PER_RANK) for directory in runs)
    assert max_difference(one["params"], two["params"]) > 1e-3
