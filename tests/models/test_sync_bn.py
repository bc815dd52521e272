"""`SyncBatchNorm`: batch norm pooled over ranks inside a sharded step, plain elsewhere."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from contrastlab.models.split_bn import SplitBatchNorm
from contrastlab.models.sync_bn import SyncBatchNorm, convert_sync_bn

WORKER = """
import sys, torch, torch.distributed as dist
from torch import nn
from contrastlab.models.sync_bn import convert_sync_bn
from contrastlab.core.distributed import sharded_step
rank, world, init, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
if world > 1:
    dist.init_process_group("gloo", init_method="file://" + init, rank=rank, world_size=world)
results = {}
for name, bn, shape in [
    ("2d", nn.BatchNorm2d(3, momentum=0.3), (12, 3, 5, 4)),
    ("1d-no-affine", nn.BatchNorm1d(6, affine=False), (12, 6)),
]:
    torch.manual_seed(0)
    if bn.affine:
        nn.init.uniform_(bn.weight, 0.5, 1.5)
        nn.init.uniform_(bn.bias, -0.5, 0.5)
    x = (torch.randn(shape, dtype=torch.float64) * 3 + 1)
    g = torch.randn(shape, dtype=torch.float64)  # the upstream gradient
    bn = bn.double()
    if world > 1:
        bn = convert_sync_bn(bn)
    rows = slice(rank * len(x) // world, (rank + 1) * len(x) // world)
    mine = x[rows].clone().requires_grad_(True)
    with sharded_step():
        y = bn(mine)
        (y * g[rows]).sum().backward()
    grads = [p.grad.clone() for p in bn.parameters()]
    for grad in grads:  # each rank holds its rows' share; DDP would sum (average) them
        if world > 1:
            dist.all_reduce(grad)
    results[name] = {
        "y": y.detach(), "dx": mine.grad, "grads": grads,
        "mean": bn.running_mean.clone(), "var": bn.running_var.clone(),
    }
torch.save(results, out)
if world > 1:
    dist.destroy_process_group()
"""


def test_two_ranks_normalise_as_one_batch(
    tmp_path: Path, run_together: Callable[..., list[str]]
) -> None:
    """Output, input gradient, weight gradients and running statistics of 2 ranks x 6 rows
    equal ``nn.BatchNorm1d/2d`` on the 12 rows in one process (float64, to 1e-12)."""
    init = str(tmp_path / "init")
    outs = [tmp_path / name for name in ("one.pt", "rank0.pt", "rank1.pt")]
    run_together(
        [
            [sys.executable, "-c", WORKER, "0", "1", "-", str(outs[0])],
            *[[sys.executable, "-c", WORKER, str(r), "2", init, str(outs[1 + r])] for r in (0, 1)],
        ]
    )
    one, *ranks = (torch.load(path, weights_only=True) for path in outs)
    for name, ref in one.items():
        for key in ("y", "dx"):
            joined = torch.cat([rank[name][key] for rank in ranks])
            torch.testing.assert_close(joined, ref[key], rtol=0, atol=1e-12)
        for rank in ranks:
            for key in ("mean", "var"):
                torch.testing.assert_close(rank[name][key], ref[key], rtol=0, atol=1e-12)
            for grad, ref_grad in zip(rank[name]["grads"], ref["grads"], strict=True):
                torch.testing.assert_close(grad, ref_grad, rtol=0, atol=1e-12)
    assert len(one["2d"]["grads"]) == 2 and one["1d-no-affine"]["grads"] == []


def test_outside_a_sharded_step_it_is_plain_batch_norm() -> None:
    torch.manual_seed(0)
    plain = nn.BatchNorm2d(4)
    sync = convert_sync_bn(nn.BatchNorm2d(4))
    x = torch.randn(8, 4, 3, 3, requires_grad=True)
    torch.testing.assert_close(sync(x), plain(x), rtol=0, atol=0)
    torch.testing.assert_close(sync.running_var, plain.running_var, rtol=0, atol=0)


def test_convert_keeps_parameters_statistics_and_dtype() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.BatchNorm1d(4))
    model[1].running_mean.fill_(0.25)
    model = model.double()
    weight = model[1].weight
    state = {k: v.clone() for k, v in model.state_dict().items()}
    converted = convert_sync_bn(model)
    assert isinstance(converted[1], SyncBatchNorm) and isinstance(converted[3], SyncBatchNorm)
    assert converted[1].weight is weight  # an optimiser holding it keeps training it
    assert converted[1].running_mean.dtype == torch.float64
    after = converted.state_dict()
    assert after.keys() == state.keys()
    for key, value in state.items():
        torch.testing.assert_close(after[key], value, rtol=0, atol=0)


def test_convert_refuses_split_batch_norm() -> None:
    with pytest.raises(ValueError, match=r"method\.moco\.bn_splits=1"):
        convert_sync_bn(nn.Sequential(SplitBatchNorm(4, splits=2)))
    assert isinstance(convert_sync_bn(SplitBatchNorm(4, splits=1)), SyncBatchNorm)
