"""The generalized contrastive loss: a literal loop, the NT-Xent identity, SWD behaviour."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from contrastlab.losses import nt_xent
from contrastlab.losses.generalized import GeneralizedContrastiveLoss, generalized_contrastive


def pairs(n: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)


def loop_logsumexp(h1: torch.Tensor, h2: torch.Tensor, weight: float, tau: float,
                   mask_self: bool) -> float:  # fmt: skip
    """The notebook's computation, one element at a time, float64, normalised inputs."""
    a, b = F.normalize(h1.double(), dim=1), F.normalize(h2.double(), dim=1)
    n, d = a.shape
    alignment = sum(float(a[i, k] - b[i, k]) ** 2 for i in range(n) for k in range(d)) / (n * d) / 2
    rows = list(a) + list(b)
    terms = []
    for i, x in enumerate(rows):
        sims = [float(x @ y) / tau for k, y in enumerate(rows) if not (mask_self and k == i)]
        top = max(sims)
        terms.append(top + math.log(sum(math.exp(s - top) for s in sims)) - math.log(d))
    return alignment + weight * sum(terms) / len(terms)


@pytest.mark.parametrize("mask_self", [False, True])
def test_logsumexp_matches_loop(mask_self: bool) -> None:
    h1, h2 = pairs(5, 4, seed=1)
    got = generalized_contrastive(h1, h2, "logsumexp", 0.7, 0.3, mask_self=mask_self).item()
    assert got == pytest.approx(loop_logsumexp(h1, h2, 0.7, 0.3, mask_self), rel=1e-5)


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0])
def test_tau_nt_xent_is_alignment_plus_tau_logsumexp(tau: float) -> None:
    """PAPERS.md 1(a): tau x NT-Xent = alignment + tau x LSE + const, in this loss's units."""
    h1, h2 = pairs(8, 6, seed=2)
    d = h1.shape[1]
    alignment = generalized_contrastive(h1, h2, weight=0.0, temperature=tau, mask_self=True)
    both = generalized_contrastive(h1, h2, weight=1.0, temperature=tau, mask_self=True)
    lse = both - alignment
    expected = d * alignment - 1 + tau * (lse + math.log(d))
    assert (tau * nt_xent(h1, h2, tau)).item() == pytest.approx(expected.item(), rel=1e-5)


def test_self_term_kept_by_default() -> None:
    h1, h2 = pairs(6, 3, seed=3)
    kept = generalized_contrastive(h1, h2, temperature=0.5).item()
    masked = generalized_contrastive(h1, h2, temperature=0.5, mask_self=True).item()
    assert kept > masked  # the kept self term exp(1/tau) only adds to every partition function


@pytest.mark.parametrize("distribution", ["swd_normal", "swd_hypersphere", "swd_hypercube"])
def test_swd_reproducible_and_sensitive_to_the_prior(distribution: str) -> None:
    normalize = distribution == "swd_hypersphere"
    h1, h2 = pairs(256, 8, seed=4)

    def loss(a: torch.Tensor, b: torch.Tensor, seed: int) -> float:
        g = torch.Generator().manual_seed(seed)
        return generalized_contrastive(a, b, distribution, normalize=normalize, generator=g).item()

    assert loss(h1, h2, 0) == loss(h1, h2, 0)
    assert loss(h1, h2, 0) != loss(h1, h2, 1)
    # Samples of the prior itself score far lower than a collapsed batch.
    g = torch.Generator().manual_seed(5)
    if distribution == "swd_hypercube":
        prior = torch.rand(512, 8, generator=g) * 2 - 1
    else:
        prior = torch.randn(512, 8, generator=g)
    # h1 = h2, so the alignment term is 0 and only the distribution term differs.
    matched = loss(prior[:256], prior[:256], 6)
    collapsed = loss(torch.full((256, 8), 0.1), torch.full((256, 8), 0.1), 6)
    assert matched < 0.25 * collapsed


def test_gradcheck_permutation_and_module() -> None:
    h1, h2 = pairs(4, 3, seed=7)
    args = (h1.double().requires_grad_(), h2.double().requires_grad_())
    assert torch.autograd.gradcheck(
        lambda a, b: generalized_contrastive(a, b, "logsumexp", 0.5, 0.5),
        args,
    )  # fmt: skip
    assert torch.autograd.gradcheck(
        lambda a, b: generalized_contrastive(
            a, b, "swd_normal", normalize=False, generator=torch.Generator().manual_seed(0)
        ),
        args,
    )  # fmt: skip
    perm = torch.tensor([2, 0, 3, 1])
    base = generalized_contrastive(h1, h2, temperature=0.2).item()
    assert generalized_contrastive(h1[perm], h2[perm], temperature=0.2).item() == pytest.approx(
        base, abs=1e-6
    )
    assert GeneralizedContrastiveLoss(temperature=0.2)(h1, h2).item() == pytest.approx(base)


def test_low_precision_inputs() -> None:
    h1, h2 = pairs(32, 16, seed=8)
    reference = generalized_contrastive(h1, h2, temperature=0.05).item()
    for dtype, tolerance in ((torch.float16, 2e-3), (torch.bfloat16, 2e-2)):
        got = generalized_contrastive(h1.to(dtype), h2.to(dtype), temperature=0.05).item()
        assert got == pytest.approx(reference, rel=tolerance)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"h2": torch.zeros(4, 2)}, "both be"),
        ({"h1": torch.zeros(1, 3), "h2": torch.zeros(1, 3)}, "N >= 2"),
        ({"distribution": "wasserstein"}, "distribution"),
        ({"temperature": -1.0}, "temperature"),
        ({"weight": float("inf")}, "weight"),
    ],
)
def test_validation(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"h1": torch.randn(4, 3), "h2": torch.randn(4, 3)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        generalized_contrastive(**args)  # type: ignore[arg-type]
