"""SupCon against a literal loop, and the identities of Khosla et al. (L_in <= L_out, NT-Xent)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from contrastlab.losses import nt_xent
from contrastlab.losses.supcon import SupConLoss, supcon


def loop_supcon(features: torch.Tensor, labels: torch.Tensor | None, tau: float, variant: str,
                anchor_mode: str = "all") -> float:  # fmt: skip
    """Eq. (2) / (3) one anchor at a time, float64, views in SupContrast's view-major order."""
    n, v, _ = features.shape
    u = F.normalize(features.double(), dim=2)
    views = [u[i, j] for j in range(v) for i in range(n)]
    ids = list(range(n)) if labels is None else labels.tolist()
    view_ids = [ids[i] for j in range(v) for i in range(n)]
    anchors = range(n) if anchor_mode == "one" else range(n * v)
    losses = []
    for a in anchors:
        others = [k for k in range(n * v) if k != a]
        denominator = sum(math.exp(float(views[a] @ views[k]) / tau) for k in others)
        ratios = [math.exp(float(views[a] @ views[p]) / tau) / denominator
                  for p in others if view_ids[p] == view_ids[a]]  # fmt: skip
        if not ratios:
            continue
        if variant == "out":
            losses.append(-sum(math.log(r) for r in ratios) / len(ratios))
        else:
            losses.append(-math.log(sum(ratios) / len(ratios)))
    return sum(losses) / len(losses)


def sample(n: int, v: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(n, v, d, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("variant", ["out", "in"])
@pytest.mark.parametrize("anchor_mode", ["all", "one"])
@pytest.mark.parametrize("use_labels", [True, False])
def test_matches_loop(variant: str, anchor_mode: str, use_labels: bool) -> None:
    features = sample(7, 3, 5, seed=1)
    labels = torch.tensor([0, 1, 0, 2, 1, 0, 3]) if use_labels else None
    got = supcon(features, labels, 0.2, variant=variant, anchor_mode=anchor_mode)  # type: ignore[arg-type]
    want = loop_supcon(features, labels, 0.2, variant, anchor_mode)
    assert got.item() == pytest.approx(want, rel=1e-5)


def test_anchors_without_positive_are_excluded_and_none_at_all_raises() -> None:
    features = sample(5, 1, 4, seed=2)  # one view: only shared labels give positives
    labels = torch.tensor([0, 0, 1, 2, 3])
    assert supcon(features, labels, 0.1).item() == pytest.approx(
        loop_supcon(features, labels, 0.1, "out"), rel=1e-5
    )
    with pytest.raises(ValueError, match="no anchor has a positive"):
        supcon(features, torch.arange(5), 0.1)


def test_self_supervised_two_views_equals_nt_xent() -> None:
    features = sample(9, 2, 6, seed=3)
    for tau in (0.1, 0.5):
        got = supcon(features, None, tau).item()
        assert got == pytest.approx(nt_xent(features[:, 0], features[:, 1], tau).item(), rel=1e-5)


def test_l_in_at_most_l_out_with_equality_for_one_positive() -> None:
    features = sample(12, 3, 4, seed=4)
    labels = torch.tensor([0, 1, 2] * 4)
    l_in = supcon(features, labels, 0.3, variant="in").item()
    l_out = supcon(features, labels, 0.3, variant="out").item()
    assert l_in < l_out
    two_views = sample(8, 2, 4, seed=5)  # labels=None, V=2: every anchor has exactly one positive
    a = supcon(two_views, None, 0.3, variant="in").item()
    assert a == pytest.approx(supcon(two_views, None, 0.3, variant="out").item(), rel=1e-6)


def test_base_temperature_rescales() -> None:
    features, labels = sample(6, 2, 3, seed=6), torch.tensor([0, 0, 1, 1, 2, 2])
    plain = supcon(features, labels, 0.1).item()
    assert supcon(features, labels, 0.1, base_temperature=0.07).item() == pytest.approx(
        plain * 0.1 / 0.07, rel=1e-6
    )


@pytest.mark.parametrize("chunk_size", [1, 5, 64])
def test_chunked_equals_unchunked_value_and_gradient(chunk_size: int) -> None:
    base, labels = sample(10, 2, 6, seed=7), torch.tensor([0, 1, 2, 3, 4] * 2)
    results = []
    for chunk in (None, chunk_size):
        features = base.clone().requires_grad_()
        loss = supcon(features, labels, 0.1, variant="in", chunk_size=chunk)
        loss.backward()
        results.append((loss.detach(), features.grad))
    for x, y in zip(*results, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-7)


def test_gradcheck_and_permutation_invariance() -> None:
    features = sample(4, 2, 3, seed=8).double().requires_grad_()
    labels = torch.tensor([0, 1, 0, 1])
    for variant in ("out", "in"):
        assert torch.autograd.gradcheck(
            lambda f, var=variant: supcon(f, labels, 0.5, variant=var, chunk_size=3),
            (features,),
            eps=1e-3,
            atol=1e-3,
            rtol=1e-2,
        )
    perm = torch.tensor([2, 0, 3, 1])
    a = supcon(features, labels, 0.2).item()
    assert supcon(features[perm], labels[perm], 0.2).item() == pytest.approx(a, rel=1e-6)
    module = SupConLoss(0.2)
    assert module(features, labels).item() == pytest.approx(a, rel=1e-6)


def test_low_precision_and_low_temperature() -> None:
    features, labels = sample(16, 2, 8, seed=9), torch.arange(16) % 4
    reference = supcon(features, labels, 0.1).item()
    for dtype, tolerance in ((torch.float16, 2e-3), (torch.bfloat16, 2e-2)):
        got = supcon(features.to(dtype), labels, 0.1).item()
        assert got == pytest.approx(reference, rel=tolerance)
    same = features[:, :1].expand(16, 2, 8)  # identical views: logits up to 1 / 0.05 = 20
    assert math.isfinite(supcon(same, labels, 0.05, variant="in").item())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"features": torch.zeros(4, 3)}, "features must be"),
        ({"features": torch.zeros(1, 1, 3)}, "at least 2 views"),
        ({"labels": torch.zeros(3, dtype=torch.long)}, "labels must be"),
        ({"temperature": 0.0}, "temperature"),
        ({"variant": "both"}, "variant"),
        ({"anchor_mode": "two"}, "anchor_mode"),
        ({"base_temperature": -1.0}, "base_temperature"),
        ({"chunk_size": 0}, "chunk_size"),
    ],
)
def test_validation_names_the_argument(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"features": torch.randn(4, 2, 3), "labels": None}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        supcon(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("variant", ["out", "in"])
def test_autocast_leaves_the_loss_in_float32(dtype: torch.dtype, variant: str) -> None:
    """Inside autocast the logits are not rounded to bf16/fp16: loss and gradient equal the
    float32 ones exactly (the anchors' products run with autocast off)."""
    features, labels = sample(12, 2, 8, seed=4), torch.arange(12) % 3
    results = []
    for mixed in (False, True):
        leaf = features.clone().requires_grad_()
        with torch.autocast("cpu", dtype=dtype, enabled=mixed):
            loss = supcon(leaf, labels, 0.1, variant=variant)
        loss.backward()
        results.append((loss.detach(), leaf.grad))
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])
