"""IIC against a literal loop, its known values (-ln C, 0) and its symmetries."""

from __future__ import annotations

import math

import pytest
import torch

from contrastlab.losses.iic import EPS, IICLoss, iic_loss


def loop_iic(p: torch.Tensor, q: torch.Tensor, lam: float) -> float:
    """The authors' IID_loss written out element by element, in float64."""
    n, c = p.shape
    joint = [[sum(float(p[i, a]) * float(q[i, b]) for i in range(n)) for b in range(c)]
             for a in range(c)]  # fmt: skip
    sym = [[(joint[a][b] + joint[b][a]) / 2 for b in range(c)] for a in range(c)]
    total = sum(map(sum, sym))
    sym = [[x / total for x in row] for row in sym]
    row_sums = [sum(row) for row in sym]
    col_sums = [sum(sym[a][b] for a in range(c)) for b in range(c)]
    loss = 0.0
    for a in range(c):
        for b in range(c):
            pab = max(sym[a][b], EPS)
            pa, pb = max(row_sums[a], EPS), max(col_sums[b], EPS)
            loss -= pab * (math.log(pab) - lam * math.log(pa) - lam * math.log(pb))
    return loss


def soft(n: int, c: int, seed: int) -> torch.Tensor:
    return torch.randn(n, c, generator=torch.Generator().manual_seed(seed)).softmax(dim=1)


@pytest.mark.parametrize("lam", [1.0, 1.5])
def test_matches_loop(lam: float) -> None:
    p, q = soft(9, 4, 1), soft(9, 4, 2)
    assert iic_loss(p, q, lam).item() == pytest.approx(loop_iic(p, q, lam), rel=1e-5)


@pytest.mark.parametrize("c", [2, 5, 10])
def test_balanced_agreeing_one_hot_gives_minus_log_c(c: int) -> None:
    one_hot = torch.eye(c).repeat(3, 1)
    assert iic_loss(one_hot, one_hot).item() == pytest.approx(-math.log(c), abs=1e-6)


def test_uniform_outputs_give_zero() -> None:
    uniform = torch.full((8, 6), 1 / 6)
    assert iic_loss(uniform, uniform).item() == pytest.approx(0.0, abs=1e-6)


def test_symmetries_and_permutations() -> None:
    p, q = soft(12, 5, 3), soft(12, 5, 4)
    base = iic_loss(p, q).item()
    assert iic_loss(q, p).item() == pytest.approx(base, abs=1e-6)  # swap the views
    rows = torch.randperm(12, generator=torch.Generator().manual_seed(5))
    assert iic_loss(p[rows], q[rows]).item() == pytest.approx(base, abs=1e-6)  # batch order
    cols = torch.tensor([3, 0, 4, 1, 2])
    assert iic_loss(p[:, cols], q[:, cols]).item() == pytest.approx(base, abs=1e-6)  # clusters
    assert IICLoss(1.0)(p, q).item() == pytest.approx(base, abs=1e-6)


def test_gradcheck_and_low_precision() -> None:
    logits = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    other = soft(6, 3, 6).double()
    assert torch.autograd.gradcheck(lambda x: iic_loss(x.softmax(dim=1), other), (logits,))
    p, q = soft(32, 4, 7), soft(32, 4, 8)
    reference = iic_loss(p, q).item()
    for dtype in (torch.float16, torch.bfloat16):
        assert iic_loss(p.to(dtype), q.to(dtype)).item() == pytest.approx(reference, abs=5e-3)


@pytest.mark.parametrize(
    ("p", "q", "lam", "match"),
    [
        (torch.ones(4, 3) / 3, torch.ones(4, 2) / 2, 1.0, "both be"),
        (torch.ones(4, 1), torch.ones(4, 1), 1.0, "C >= 2"),
        (torch.ones(4, 3), torch.ones(4, 3) / 3, 1.0, "p must hold probabilities"),
        (torch.ones(4, 3) / 3, -torch.ones(4, 3), 1.0, "p_prime must hold"),
        (torch.ones(4, 3) / 3, torch.ones(4, 3) / 3, float("nan"), "lam"),
    ],
)
def test_validation(p: torch.Tensor, q: torch.Tensor, lam: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        iic_loss(p, q, lam)
