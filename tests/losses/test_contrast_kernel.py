"""The hand-written gradient of NT-Xent / InfoNCE, chunking, the cross-view variant, and InfoNCE."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from contrastlab.losses import info_nce, nt_xent


def autograd_nt_xent(z_a: torch.Tensor, z_b: torch.Tensor, tau: float) -> torch.Tensor:
    """The textbook autograd implementation: cross-entropy over the masked 2N x 2N logits."""
    n = len(z_a)
    u = F.normalize(torch.cat([z_a, z_b]).double(), dim=1)
    logits = (u @ u.T / tau).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    targets = torch.cat([torch.arange(n) + n, torch.arange(n)])
    return F.cross_entropy(logits, targets)


def pairs(n: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)


def value_and_grads(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], z_a: torch.Tensor, z_b: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    a, b = z_a.clone().requires_grad_(), z_b.clone().requires_grad_()
    loss = fn(a, b)
    loss.backward()
    return loss.detach(), a.grad, b.grad


@pytest.mark.parametrize("chunk_size", [None, 1, 3, 7, 64])
def test_gradient_matches_autograd_reference(chunk_size: int | None) -> None:
    z_a, z_b = pairs(10, 6, seed=1)
    ours = value_and_grads(lambda a, b: nt_xent(a, b, 0.3, chunk_size=chunk_size), z_a, z_b)
    ref = value_and_grads(lambda a, b: autograd_nt_xent(a, b, 0.3), z_a.double(), z_b.double())
    for x, y in zip(ours, ref, strict=True):
        torch.testing.assert_close(x.double(), y, rtol=1e-5, atol=1e-7)


def test_chunked_equals_unchunked_at_a_larger_batch() -> None:
    z_a, z_b = pairs(300, 32, seed=2)
    whole = value_and_grads(lambda a, b: nt_xent(a, b, 0.1), z_a, z_b)
    for chunk in (1, 77, 256):
        parts = value_and_grads(lambda a, b, c=chunk: nt_xent(a, b, 0.1, chunk_size=c), z_a, z_b)
        for x, y in zip(parts, whole, strict=True):
            torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-7)


def test_gradcheck_float64_chunked() -> None:
    z_a, z_b = pairs(4, 3, seed=3)
    args = (z_a.double().requires_grad_(), z_b.double().requires_grad_())
    # float64 inputs keep float64 arithmetic, so gradcheck's own tolerances apply
    assert torch.autograd.gradcheck(lambda a, b: nt_xent(a, b, 0.5, chunk_size=3), args)


def loop_cross_view(z_a: torch.Tensor, z_b: torch.Tensor, tau: float) -> float:
    u_a = F.normalize(z_a.double(), dim=1)
    u_b = F.normalize(z_b.double(), dim=1)
    n, total = len(u_a), 0.0
    for x, y in ((u_a, u_b), (u_b, u_a)):
        for i in range(n):
            denominator = sum(math.exp(float(x[i] @ y[k]) / tau) for k in range(n))
            total += -math.log(math.exp(float(x[i] @ y[i]) / tau) / denominator)
    return total / (2 * n)


@pytest.mark.parametrize("chunk_size", [None, 2])
def test_cross_view_only_matches_loop(chunk_size: int | None) -> None:
    z_a, z_b = pairs(6, 5, seed=4)
    got = nt_xent(z_a, z_b, 0.2, cross_view_only=True, chunk_size=chunk_size).item()
    assert got == pytest.approx(loop_cross_view(z_a, z_b, 0.2), rel=1e-5)
    # It is the mean of the two InfoNCE directions with in-batch negatives.
    both = (info_nce(z_a, z_b, temperature=0.2) + info_nce(z_b, z_a, temperature=0.2)) / 2
    assert got == pytest.approx(both.item(), rel=1e-6)


def test_no_overflow_at_low_temperature_and_low_precision() -> None:
    z = torch.randn(64, 16, generator=torch.Generator().manual_seed(5))
    for dtype in (torch.float16, torch.bfloat16):
        for tau in (0.05, 0.01):
            loss = nt_xent(z.to(dtype), z.to(dtype), tau, chunk_size=16)
            assert torch.isfinite(loss)
    # Identical views at tau 0.05: positive logit 20, the loss stays finite and non-negative.
    assert 0 <= nt_xent(z, z, 0.05).item() < math.log(2 * 64)


def loop_info_nce(q: torch.Tensor, k: torch.Tensor, bank: torch.Tensor | None, tau: float,
                  in_batch: bool) -> float:  # fmt: skip
    u_q, u_k = F.normalize(q.double(), dim=1), F.normalize(k.double(), dim=1)
    u_bank = None if bank is None else F.normalize(bank.double(), dim=1)
    total = 0.0
    for i in range(len(u_q)):
        negatives = [u_k[j] for j in range(len(u_k)) if j != i] if in_batch else []
        negatives += [] if u_bank is None else list(u_bank)
        pos = math.exp(float(u_q[i] @ u_k[i]) / tau)
        total += -math.log(pos / (pos + sum(math.exp(float(u_q[i] @ x) / tau) for x in negatives)))
    return total / len(u_q)


@pytest.mark.parametrize(
    ("use_bank", "in_batch"), [(True, None), (True, True), (False, None), (False, True)]
)
def test_info_nce_matches_loop(use_bank: bool, in_batch: bool | None) -> None:
    g = torch.Generator().manual_seed(6)
    q, k, bank = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g), None
    if use_bank:
        bank = torch.randn(11, 8, generator=g)
    effective = (bank is None) if in_batch is None else in_batch
    got = info_nce(q, k, bank, 0.2, in_batch=in_batch, chunk_size=2).item()
    assert got == pytest.approx(loop_info_nce(q, k, bank, 0.2, effective), rel=1e-5)


def test_info_nce_moco_gradient_and_permutation() -> None:
    g = torch.Generator().manual_seed(7)
    q = torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    k, bank = torch.randn(6, 4, generator=g), torch.randn(9, 4, generator=g)
    assert torch.autograd.gradcheck(lambda x: info_nce(x, k.double(), bank.double(), 0.2), (q,))
    perm = torch.randperm(6, generator=g)
    a, b = info_nce(q, k, bank), info_nce(q[perm], k[perm], bank)
    assert a.item() == pytest.approx(b.item(), rel=1e-6)
    with pytest.raises(ValueError, match="negatives must be"):
        info_nce(q, k, torch.randn(3, 5))
    with pytest.raises(ValueError, match="in_batch=False needs a negatives bank"):
        info_nce(q, k, in_batch=False)
    with pytest.raises(ValueError, match="temperature"):
        info_nce(q, k, bank, 0.0)
    with pytest.raises(ValueError, match="chunk_size"):
        nt_xent(q, k.double(), chunk_size=0)


_MEMORY_PROBE = """
import resource, torch
from contrastlab.losses import nt_xent, supcon
g = torch.Generator().manual_seed(8)
z_a = torch.randn(8192, 128, generator=g, requires_grad=True)
z_b = torch.randn(8192, 128, generator=g)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
loss = {expression}
loss.backward()
assert torch.isfinite(loss) and torch.isfinite(z_a.grad).all()
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def peak_growth_mib(expression: str) -> float:
    """Peak RSS growth (MiB) of one fwd+bwd at N = 8192, d = 128, in a fresh process."""
    code = _MEMORY_PROBE.format(expression=expression)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def test_n8192_forward_backward_in_bounded_memory() -> None:
    """Unchunked, the 16384^2 float32 logits alone are 1 GiB; chunks of 512 rows are 32 MiB."""
    chunked = peak_growth_mib("nt_xent(z_a, z_b, 0.5, chunk_size=512)")
    assert chunked < 300, f"peak RSS grew by {chunked:.0f} MiB with chunk_size=512"
    whole = peak_growth_mib("nt_xent(z_a, z_b, 0.5)")
    assert whole > 1000 > chunked, (whole, chunked)  # the probe sees the difference it claims


def test_supcon_n8192_forward_backward_in_bounded_memory() -> None:
    features = "torch.stack([z_a, z_b], 1), torch.arange(8192) % 10"
    # Measured 510 MiB (checkpointed chunks of 512 anchors: logits, masks and their gradients);
    # a single unchunked 16384 x 16384 float32 logits matrix would take 1024 MiB by itself.
    chunked = peak_growth_mib(f"supcon({features}, 0.1, variant='in', chunk_size=512)")
    assert chunked < 800, f"peak RSS grew by {chunked:.0f} MiB with chunk_size=512"


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("chunk_size", [None, 8])
def test_autocast_leaves_the_kernel_in_float32(dtype: torch.dtype, chunk_size: int | None) -> None:
    """Inside autocast (train.precision bf16/fp16) NT-Xent and InfoNCE (in-batch, and MoCo's
    own-key logits against a queue) and their gradients are the float32 ones, bit for bit. Before,
    NT-Xent's forward kept a bf16 softmax that its backward's ``probs @ keys`` refused, and MoCo's
    queue logits were rounded to bf16."""
    z_a, z_b = pairs(24, 16, seed=11)
    results = []
    for mixed in (False, True):
        a, b = z_a.clone().requires_grad_(), z_b.clone().requires_grad_()
        with torch.autocast("cpu", dtype=dtype, enabled=mixed):
            loss = nt_xent(a, b, 0.2, chunk_size=chunk_size)
            negatives = F.normalize(z_b.flip(0), dim=1)
            moco = info_nce(a, b, negatives, 0.2)  # MoCo's own-key logits against a queue
            both = info_nce(a, b, negatives, 0.2, in_batch=True, chunk_size=chunk_size)
        (loss + moco + both).backward()
        assert {loss.dtype, moco.dtype, both.dtype} == {torch.float32}
        results.append((loss.detach(), moco.detach(), both.detach(), a.grad, b.grad))
    for plain, mixed in zip(*results, strict=True):
        assert torch.equal(plain, mixed)
