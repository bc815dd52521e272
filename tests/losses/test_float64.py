"""Every loss keeps float64: float64 inputs give a float64 loss computed in float64 arithmetic
(a reference or ``gradcheck`` caller is not silently rounded to float32), while half and float32
inputs still give a float32 loss (see `contrastlab.losses._precision`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from contrastlab.losses import (
    generalized_contrastive,
    iic_loss,
    info_nce,
    looc_nce,
    nt_xent,
    supcon,
)
from contrastlab.losses.generalized import Distribution

Loss = Callable[..., Tensor]
LABELS = torch.tensor([0, 1, 0, 2])


def _swd(kind: Distribution) -> Loss:
    """A sliced-Wasserstein loss whose random projection is the same at every call."""

    def loss(a: Tensor, b: Tensor) -> Tensor:
        generator = torch.Generator().manual_seed(0)
        return generalized_contrastive(a, b, kind, 0.5, normalize=False, generator=generator)

    return loss


# name: (loss, shapes of its float inputs); every input is a tensor the loss differentiates
CASES: dict[str, tuple[Loss, list[tuple[int, ...]]]] = {
    "nt_xent": (lambda a, b: nt_xent(a, b, 0.5), [(4, 3), (4, 3)]),
    "nt_xent_chunked": (lambda a, b: nt_xent(a, b, 0.5, chunk_size=3), [(4, 3), (4, 3)]),
    "nt_xent_cross_view": (lambda a, b: nt_xent(a, b, 0.5, cross_view_only=True), [(4, 3)] * 2),
    "info_nce_in_batch": (lambda q, k: info_nce(q, k, temperature=0.2), [(4, 3), (4, 3)]),
    "info_nce_bank": (lambda q, k, bank: info_nce(q, k, bank, 0.2), [(4, 3), (4, 3), (5, 3)]),
    "info_nce_batch_and_bank": (
        lambda q, k, bank: info_nce(q, k, bank, 0.2, in_batch=True, chunk_size=3),
        [(4, 3), (4, 3), (5, 3)],
    ),
    "supcon_out": (lambda f: supcon(f, LABELS, 0.5), [(4, 2, 3)]),
    "supcon_in_chunked": (
        lambda f: supcon(f, LABELS, 0.5, variant="in", chunk_size=3),
        [(4, 2, 3)],
    ),
    "supcon_self_supervised": (lambda f: supcon(f, None, 0.5, base_temperature=0.07), [(4, 2, 3)]),
    "generalized_logsumexp": (
        lambda a, b: generalized_contrastive(a, b, "logsumexp", 0.5, 0.5),
        [(4, 3), (4, 3)],
    ),
    "generalized_mask_self": (
        lambda a, b: generalized_contrastive(a, b, temperature=0.5, mask_self=True),
        [(4, 3), (4, 3)],
    ),
    "generalized_swd_normal": (_swd("swd_normal"), [(4, 3), (4, 3)]),
    "generalized_swd_hypersphere": (_swd("swd_hypersphere"), [(4, 3), (4, 3)]),
    "generalized_swd_hypercube": (_swd("swd_hypercube"), [(4, 3), (4, 3)]),
    "iic": (lambda x, y: iic_loss(x.softmax(dim=1), y.softmax(dim=1), 1.5), [(6, 3), (6, 3)]),
    "looc_nce": (
        lambda q, k, bank: looc_nce(q, k, bank, 0.5),
        [(3, 2, 4), (3, 3, 2, 4), (3, 5, 4)],
    ),
}


def inputs(shapes: list[tuple[int, ...]], dtype: torch.dtype) -> list[Tensor]:
    """Seeded float64 draws, cast to ``dtype``: the same values up to its rounding."""
    generator = torch.Generator().manual_seed(11)
    drawn = [torch.randn(shape, generator=generator, dtype=torch.float64) for shape in shapes]
    return [x.to(dtype).requires_grad_() for x in drawn]


@pytest.mark.parametrize("name", list(CASES))
def test_float64_inputs_give_a_float64_loss_equal_to_the_float32_one(name: str) -> None:
    loss, shapes = CASES[name]
    wide, narrow = loss(*inputs(shapes, torch.float64)), loss(*inputs(shapes, torch.float32))
    assert wide.dtype == torch.float64 and narrow.dtype == torch.float32
    torch.testing.assert_close(wide, narrow.double(), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_float64_gradient_passes_gradcheck_at_float64_tolerances(name: str) -> None:
    """Default gradcheck settings (eps 1e-6, atol 1e-5): a loss rounded to float32 inside fails,
    its finite differences are then off by ~1e-7 / 1e-6."""
    loss, shapes = CASES[name]
    args = inputs(shapes, torch.float64)
    assert torch.autograd.gradcheck(loss, args)
    wide = loss(*args)
    wide.backward()
    assert all(x.grad is not None and x.grad.dtype == torch.float64 for x in args)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", list(CASES))
def test_half_inputs_still_give_a_float32_loss(name: str, dtype: torch.dtype) -> None:
    loss, shapes = CASES[name]
    assert loss(*inputs(shapes, dtype)).dtype == torch.float32
