"""gather=True across 2 gloo processes on the CPU equals one process on the concatenated batch.

Each rank's loss is the mean over its own anchors, so the mean of the rank losses is the global
loss; each rank's input gradient is world_size x the global loss's gradient on its rows (the
gather's backward sums over ranks; DDP's gradient averaging divides the factor out again).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from contrastlab.losses import info_nce, nt_xent, supcon
from contrastlab.losses.generalized import generalized_contrastive

WORLD, N, D = 2, 6, 5

# name -> expression of the loss given z_a, z_b (this rank's rows) and g (gather flag)
CASES = {
    "nt_xent": "nt_xent(z_a, z_b, 0.5, gather=g)",
    "nt_xent_chunked": "nt_xent(z_a, z_b, 0.3, gather=g, chunk_size=4)",
    "nt_xent_cross_view": "nt_xent(z_a, z_b, 0.5, cross_view_only=True, gather=g)",
    "info_nce_in_batch": "info_nce(z_a, z_b, temperature=0.2, gather=g)",
    "info_nce_in_batch_and_bank": "info_nce(z_a, z_b, bank, 0.2, in_batch=True, gather=g)",
    "generalized_logsumexp": (
        "generalized_contrastive(z_a, z_b, weight=0.5, temperature=0.2, gather=g)"
    ),
    "generalized_masked": (
        "generalized_contrastive(z_a, z_b, temperature=0.3, mask_self=True, gather=g)"
    ),
    "generalized_swd_sphere": (
        "generalized_contrastive(z_a, z_b, distribution='swd_hypersphere', "
        "generator=torch.Generator().manual_seed(3), gather=g)"
    ),
    "generalized_swd_normal": (
        "generalized_contrastive(z_a, z_b, weight=2.0, distribution='swd_normal', "
        "normalize=False, generator=torch.Generator().manual_seed(4), gather=g)"
    ),
    "supcon_self_supervised": "supcon(torch.stack([z_a, z_b], 1), None, 0.2, gather=g)",
    "supcon_labels_in_chunked": (
        "supcon(torch.stack([z_a, z_b], 1), lab, 0.1, variant='in', gather=g, chunk_size=5)"
    ),
    "supcon_labels_one_anchor": (
        "supcon(torch.stack([z_a, z_b], 1), lab, 0.1, anchor_mode='one', gather=g)"
    ),
}

WORKER = """
import sys, torch, torch.distributed as dist
from contrastlab.losses import info_nce, nt_xent, supcon
from contrastlab.losses.generalized import generalized_contrastive
rank, world, init, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
dist.init_process_group("gloo", init_method="file://" + init, rank=rank, world_size=world)
cases = {cases!r}
g = torch.Generator().manual_seed(0)
full_a, full_b = torch.randn({rows}, {d}, generator=g), torch.randn({rows}, {d}, generator=g)
bank = torch.randn(7, {d}, generator=g)
rows = slice(rank * {n}, (rank + 1) * {n})
lab = (torch.arange({rows}) % 3)[rows]
results = {{}}
for name, expression in cases.items():
    z_a = full_a[rows].clone().requires_grad_()
    z_b = full_b[rows].clone().requires_grad_()
    loss = eval(expression, {{**globals(), "z_a": z_a, "z_b": z_b, "g": True}})
    loss.backward()
    results[name] = (loss.detach(), z_a.grad, z_b.grad)
torch.save(results, out)
dist.destroy_process_group()
"""


Results = list[dict[str, tuple[torch.Tensor, ...]]]


def run_ranks(tmp_path: Path, run_together: Callable[..., list[str]]) -> Results:
    code = WORKER.format(cases=CASES, rows=WORLD * N, d=D, n=N)
    init = tmp_path / "init"
    outs = [tmp_path / f"rank{r}.pt" for r in range(WORLD)]
    run_together(
        [
            [sys.executable, "-c", code, str(r), str(WORLD), str(init), str(outs[r])]
            for r in range(WORLD)
        ]
    )
    return [torch.load(path, weights_only=True) for path in outs]


@pytest.fixture(scope="module")
def rank_results(
    tmp_path_factory: pytest.TempPathFactory, run_together: Callable[..., list[str]]
) -> Results:
    return run_ranks(tmp_path_factory.mktemp("gloo"), run_together)


@pytest.mark.parametrize("name", list(CASES))
def test_gathered_loss_and_gradients_equal_one_process(rank_results: Results, name: str) -> None:
    g = torch.Generator().manual_seed(0)
    full_a = torch.randn(WORLD * N, D, generator=g).requires_grad_()
    full_b = torch.randn(WORLD * N, D, generator=g).requires_grad_()
    bank = torch.randn(7, D, generator=g)
    scope = {"nt_xent": nt_xent, "info_nce": info_nce, "supcon": supcon, "torch": torch}
    scope["generalized_contrastive"] = generalized_contrastive
    scope.update(bank=bank, lab=torch.arange(WORLD * N) % 3)
    single = eval(CASES[name], {**scope, "z_a": full_a, "z_b": full_b, "g": False})
    single.backward()
    losses = torch.stack([results[name][0] for results in rank_results])
    torch.testing.assert_close(losses.mean(), single.detach(), rtol=1e-5, atol=1e-6)
    for rank, results in enumerate(rank_results):
        rows = slice(rank * N, (rank + 1) * N)
        _, grad_a, grad_b = results[name]
        torch.testing.assert_close(grad_a, WORLD * full_a.grad[rows], rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(grad_b, WORLD * full_b.grad[rows], rtol=1e-4, atol=1e-6)


def test_gather_is_a_no_op_in_one_process() -> None:
    g = torch.Generator().manual_seed(1)
    z_a, z_b = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    assert nt_xent(z_a, z_b, gather=True).item() == nt_xent(z_a, z_b).item()
