"""MoCo's shuffle-BN across 2 gloo processes: every rank's keys come back in its own order, and
the shuffled batches mix the ranks' images (so per-rank BN statistics of keys and queries
differ)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import torch

WORKER = """
import sys, torch, torch.distributed as dist
from contrastlab.core.distributed import sharded_step, shuffle_batch, unshuffle_batch
rank, init, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
dist.init_process_group("gloo", init_method="file://" + init, rank=rank, world_size=2)
x = torch.arange(16.0).view(8, 2) + 100 * rank  # rank r's rows: r*100 + 0..15
with sharded_step():  # the trainer's step: the batch is split over the ranks
    shuffled, inverse = shuffle_batch(x, torch.Generator().manual_seed(0))
    back = unshuffle_batch(shuffled * 3 + 1, inverse)  # any per-row function
torch.save({"x": x, "shuffled": shuffled, "back": back}, out)
dist.destroy_process_group()
"""


def test_shuffle_across_two_ranks(tmp_path: Path, run_together: Callable[..., list[str]]) -> None:
    init, outs = tmp_path / "init", [tmp_path / f"rank{r}.pt" for r in range(2)]
    run_together(
        [[sys.executable, "-c", WORKER, str(r), str(init), str(outs[r])] for r in range(2)]
    )
    results = [torch.load(path, weights_only=True) for path in outs]
    for r in results:
        torch.testing.assert_close(r["back"], r["x"] * 3 + 1, rtol=0, atol=0)
    everything = torch.cat([r["x"] for r in results])
    dealt = torch.cat([r["shuffled"] for r in results])
    # A permutation of the global batch, dealt out in equal shares ...
    assert sorted(map(tuple, dealt.tolist())) == sorted(map(tuple, everything.tolist()))
    # ... that mixes the ranks (with this seed each rank holds rows of the other).
    for rank, r in enumerate(results):
        owners = (r["shuffled"][:, 0] >= 100).long()
        assert (owners != rank).any() and (owners == rank).any()
