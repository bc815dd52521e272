"""NT-Xent against a literal loop, a hand-computed case, and its known properties."""

from __future__ import annotations

import math

import pytest
import torch

from contrastlab.losses import nt_xent


def loop_nt_xent(z_a: torch.Tensor, z_b: torch.Tensor, tau: float) -> float:
    """The formula of SimCLR's eq. (1), one anchor at a time, in float64."""
    z = torch.cat([z_a, z_b]).double()
    u = z / z.norm(dim=1, keepdim=True)
    n2 = len(u)
    n = n2 // 2
    total = 0.0
    for i in range(n2):
        j = (i + n) % n2
        numerator = math.exp(float(u[i] @ u[j]) / tau)
        denominator = sum(math.exp(float(u[i] @ u[k]) / tau) for k in range(n2) if k != i)
        total += -math.log(numerator / denominator)
    return total / n2


@pytest.mark.parametrize(
    ("n", "d", "tau"), [(2, 3, 0.5), (5, 8, 0.1), (16, 4, 1.0), (7, 128, 0.07)]
)
def test_matches_loop(n: int, d: int, tau: float) -> None:
    g = torch.Generator().manual_seed(n * 100 + d)
    z_a, z_b = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    assert nt_xent(z_a, z_b, tau).item() == pytest.approx(loop_nt_xent(z_a, z_b, tau), rel=1e-5)


def test_hand_computed_case() -> None:
    # Two images, views on the unit circle: a1=(1,0), b1=(0,1), a2=(-1,0), b2=(0,-1); tau = 1.
    # For a1: sims to b1, a2, b2 are 0, -1, 0 -> loss = -log(1 / (1 + e^-1 + 1)) = log(2 + e^-1).
    # By symmetry every anchor has the same loss.
    z_a = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    z_b = torch.tensor([[0.0, 1.0], [0.0, -1.0]])
    assert nt_xent(z_a, z_b, 1.0).item() == pytest.approx(math.log(2 + math.exp(-1)), rel=1e-6)


def test_scale_invariant_and_bounded() -> None:
    g = torch.Generator().manual_seed(0)
    z_a, z_b = torch.randn(8, 16, generator=g), torch.randn(8, 16, generator=g)
    loss = nt_xent(z_a, z_b, 0.5)
    assert nt_xent(3 * z_a, 0.2 * z_b, 0.5).item() == pytest.approx(loss.item(), rel=1e-6)
    # Identical views push the positive to cosine 1: the loss is below log(2N - 1) (uniform logits).
    perfect = nt_xent(z_a, z_a, 0.1)
    assert perfect.item() < math.log(2 * 8 - 1)
    assert loss.item() > 0


def test_permutation_invariance() -> None:
    g = torch.Generator().manual_seed(1)
    z_a, z_b = torch.randn(12, 6, generator=g), torch.randn(12, 6, generator=g)
    perm = torch.randperm(12, generator=g)
    assert nt_xent(z_a[perm], z_b[perm], 0.3).item() == pytest.approx(
        nt_xent(z_a, z_b, 0.3).item(), rel=1e-6
    )
    # Swapping the roles of the two views changes nothing either.
    assert nt_xent(z_b, z_a, 0.3).item() == pytest.approx(nt_xent(z_a, z_b, 0.3).item(), rel=1e-6)


def test_gradcheck_float64() -> None:
    g = torch.Generator().manual_seed(2)
    z_a = torch.randn(4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    z_b = torch.randn(4, 5, generator=g, dtype=torch.float64, requires_grad=True)

    # nt_xent computes in float32; check the float64 gradient of the same formula via double inputs.
    def f(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        u = torch.nn.functional.normalize(torch.cat([a, b]), dim=1)
        logits = (u @ u.T / 0.5).masked_fill(torch.eye(8, dtype=torch.bool), float("-inf"))
        return torch.nn.functional.cross_entropy(logits, torch.tensor([4, 5, 6, 7, 0, 1, 2, 3]))

    assert torch.autograd.gradcheck(f, (z_a, z_b))
    grads = torch.autograd.grad(nt_xent(z_a, z_b, 0.5), (z_a, z_b))
    reference = torch.autograd.grad(f(z_a, z_b), (z_a, z_b))
    for ours, ref in zip(grads, reference, strict=True):
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-6)


def test_low_precision_inputs_match_fp32() -> None:
    g = torch.Generator().manual_seed(3)
    z_a, z_b = torch.randn(64, 32, generator=g), torch.randn(64, 32, generator=g)
    ref = nt_xent(z_a, z_b, 0.05).item()
    for dtype in (torch.bfloat16, torch.float16):
        value = nt_xent(z_a.to(dtype), z_b.to(dtype), 0.05)
        assert value.dtype == torch.float32 and math.isfinite(value.item())
        assert value.item() == pytest.approx(ref, rel=2e-2)


@pytest.mark.parametrize(
    ("shape_a", "shape_b", "tau", "match"),
    [
        ((4, 3), (5, 3), 0.5, "both be"),
        ((1, 3), (1, 3), 0.5, "at least 2"),
        ((4, 3), (4, 3), 0.0, "temperature"),
    ],
)
def test_input_validation(
    shape_a: tuple[int, int], shape_b: tuple[int, int], tau: float, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        nt_xent(torch.randn(*shape_a), torch.randn(*shape_b), tau)
