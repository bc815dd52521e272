"""Retrieval metrics: hand-computed rankings, a brute-force numpy reference, chunking and checks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate import retrieval
from contrastlab.evaluate.retrieval import (
    RetrievalResult,
    pick_queries,
    retrieval_metrics,
    top_k_indices,
)


def on_circle(degrees: list[float]) -> torch.Tensor:
    """2-D unit vectors at the given angles: cosine similarity falls with the angle between."""
    rad = torch.tensor(degrees, dtype=torch.float64) * math.pi / 180
    return torch.stack([rad.cos(), rad.sin()], dim=1)


def brute_force(
    queries: np.ndarray,
    q_labels: np.ndarray,
    gallery: np.ndarray | None,
    g_labels: np.ndarray | None,
    ks: tuple[int, ...],
) -> dict[str, np.ndarray]:
    """One query at a time: a full stable argsort of the cosine similarities, then the formulas."""
    loo = gallery is None
    bank = queries if gallery is None else gallery
    bank_labels = q_labels if g_labels is None else g_labels
    unit_bank = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    out: dict[str, list[float]] = {
        f"{m}_at_{k}": [] for m in ("precision", "recall", "hit") for k in ks
    }
    out["map_at_r"], out["r"] = [], []
    for i, (query, label) in enumerate(zip(queries, q_labels, strict=True)):
        sim = unit_bank @ (query / np.linalg.norm(query))
        order = np.argsort(-sim, kind="stable")
        if loo:
            order = order[order != i]
        rel = (bank_labels[order] == label).astype(float)
        r = int(rel.sum())
        out["r"].append(r)
        for k in ks:
            hits = rel[:k].sum()
            out[f"precision_at_{k}"].append(hits / k if r else math.nan)
            out[f"recall_at_{k}"].append(hits / r if r else math.nan)
            out[f"hit_at_{k}"].append(float(hits > 0) if r else math.nan)
        ap = sum(rel[:i].sum() / i * rel[i - 1] for i in range(1, r + 1)) / r if r else math.nan
        out["map_at_r"].append(ap)
    return {name: np.asarray(values) for name, values in out.items()}


def random_problem(
    seed: int, n: int, dim: int = 6, classes: int = 5
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g), torch.randint(0, classes, (n,), generator=g)


def assert_matches(result: RetrievalResult, expected: dict[str, np.ndarray]) -> None:
    assert set(result.per_query) == set(expected)
    for name, values in expected.items():
        np.testing.assert_allclose(result.per_query[name], values, rtol=1e-12, err_msg=name)
    answered = expected["r"] > 0
    assert result.n_without_relevant == int((~answered).sum())
    for name in result.mean:
        assert result.mean[name] == pytest.approx(expected[name][answered].mean(), rel=1e-12)


def test_hand_computed_separate_gallery() -> None:
    # Gallery at 10..60 degrees, labels 0 1 0 1 1 0.
    gallery = on_circle([10, 20, 30, 40, 50, 60])
    g_labels = torch.tensor([0, 1, 0, 1, 1, 0])
    # Query A at 0 degrees, label 0: ranking 10,20,...,60 -> rel 1 0 1 0 0 1, R = 3,
    #   hits(1,3,5) = 1, 2, 2;  mAP@R = (P(1) + P(3)) / 3 = (1 + 2/3) / 3 = 5/9.
    # Query B at 65 degrees, label 1: ranking 60,50,40,30,20,10 -> labels 0 1 1 0 1 0,
    #   rel 0 1 1 0 1 0, R = 3, hits(1,3,5) = 0, 2, 3;  mAP@R = (1/2 + 2/3) / 3 = 7/18.
    queries = on_circle([0, 65])
    result = retrieval_metrics(queries, torch.tensor([0, 1]), gallery, g_labels, ks=(1, 3, 5))
    expected = {
        "precision_at_1": [1, 0],
        "precision_at_3": [2 / 3, 2 / 3],
        "precision_at_5": [2 / 5, 3 / 5],
        "recall_at_1": [1 / 3, 0],
        "recall_at_3": [2 / 3, 2 / 3],
        "recall_at_5": [2 / 3, 1],
        "hit_at_1": [1, 0],
        "hit_at_3": [1, 1],
        "hit_at_5": [1, 1],
        "map_at_r": [5 / 9, 7 / 18],
    }
    for name, values in expected.items():
        np.testing.assert_allclose(result.per_query[name], values, rtol=1e-12, err_msg=name)
    np.testing.assert_array_equal(result.per_query["r"], [3, 3])
    assert result.mean["map_at_r"] == pytest.approx((5 / 9 + 7 / 18) / 2)  # = 17/36
    assert result.mean["recall_at_5"] == pytest.approx(5 / 6)  # (2/3 + 1) / 2
    assert result.mean["hit_at_1"] == pytest.approx(0.5)
    assert result.ks == (1, 3, 5) and result.n_queries == 2 and result.n_gallery == 6
    assert result.n_without_relevant == 0 and not result.leave_one_out
    flat = result.as_dict()
    assert flat["retrieval_precision_at_5"] == pytest.approx(0.5)  # (2/5 + 3/5) / 2
    assert flat["retrieval_map_at_r"] == pytest.approx(17 / 36)
    assert "retrieval_r" not in flat and len(flat) == 10
    assert set(result.as_dict(prefix="")) == set(expected)


def test_hand_computed_leave_one_out_with_a_query_without_relevant_items() -> None:
    # Points at 0, 10, 25, 45 degrees with labels 0 0 1 0; each ranks the other three.
    # q0 (0):  10(0) 25(1) 45(0) -> rel 1 0 1, R = 2, mAP@R = (P(1)*1 + P(2)*0) / 2 = 1/2.
    # q1 (10): 0(0) 25(1) 45(0)  -> rel 1 0 1, R = 2, mAP@R = 1/2 (same pattern).
    # q2 (25, label 1): no other item has label 1 -> R = 0 -> NaN, counted.
    # q3 (45): 25(1) 10(0) 0(0)  -> rel 0 1 1, R = 2, mAP@R = (0 + 1/2) / 2 = 1/4.
    # precision@2: 1/2, 1/2, NaN, 1/2; recall@2: 1/2, 1/2, NaN, 1/2; hit@1: 1, 1, NaN, 0.
    features = on_circle([0, 10, 25, 45])
    result = retrieval_metrics(features, torch.tensor([0, 0, 1, 0]), ks=(1, 2, 3))
    np.testing.assert_allclose(result.per_query["map_at_r"], [1 / 2, 1 / 2, np.nan, 1 / 4])
    np.testing.assert_allclose(result.per_query["precision_at_2"], [0.5, 0.5, np.nan, 0.5])
    np.testing.assert_allclose(result.per_query["recall_at_3"], [1, 1, np.nan, 1])
    np.testing.assert_allclose(result.per_query["hit_at_1"], [1, 1, np.nan, 0])
    np.testing.assert_array_equal(result.per_query["r"], [2, 2, 0, 2])
    assert result.n_without_relevant == 1 and result.leave_one_out
    assert result.mean["map_at_r"] == pytest.approx((1 / 2 + 1 / 2 + 1 / 4) / 3)  # = 5/12
    assert result.mean["hit_at_1"] == pytest.approx(2 / 3)
    assert all(math.isfinite(v) for v in result.mean.values())


@pytest.mark.parametrize("chunk_size", [7, 256])
def test_separate_gallery_matches_brute_force(chunk_size: int) -> None:
    queries, q_labels = random_problem(0, 40, classes=6)  # class 5 only among the queries
    gallery, g_labels = random_problem(1, 90, classes=5)
    ks = (1, 4, 10)
    result = retrieval_metrics(queries, q_labels, gallery, g_labels, ks=ks, chunk_size=chunk_size)
    expected = brute_force(queries.numpy(), q_labels.numpy(), gallery.numpy(), g_labels.numpy(), ks)
    assert (expected["r"] == 0).any()  # the reference covers queries without relevant items
    assert_matches(result, expected)


@pytest.mark.parametrize("chunk_size", [5, 64])
def test_leave_one_out_matches_brute_force(chunk_size: int) -> None:
    features, labels = random_problem(2, 60, classes=4)
    labels[0] = 9  # a class of one: nothing else to retrieve
    ks = (1, 3, 20)
    result = retrieval_metrics(features.double(), labels, ks=ks, chunk_size=chunk_size)
    assert_matches(result, brute_force(features.double().numpy(), labels.numpy(), None, None, ks))
    assert result.n_without_relevant == 1 and result.n_gallery == 60


def test_leave_one_out_with_exact_duplicates_drops_only_the_query() -> None:
    # Six identical points tie at similarity 1 and rank lower index first, so for the later
    # copies the query itself falls outside the searched depth: the search must still drop
    # exactly one item (the last), never a real neighbour in the middle.
    others, _ = random_problem(9, 10)
    features = torch.cat([torch.ones(6, 6), others]).double()
    labels = torch.tensor([0, 1, 0, 1, 0, 0] + [2] * 10)
    ks = (1, 2)
    result = retrieval_metrics(features, labels, ks=ks, chunk_size=3)  # rows 3-5 alone
    assert_matches(result, brute_force(features.numpy(), labels.numpy(), None, None, ks))
    # query 5 (label 0, R = 3) ranks copies 0 1 2 3 4 -> rel 1 0 1 0 1: mAP@R = (1 + 2/3) / 3
    assert result.per_query["map_at_r"][5] == pytest.approx(5 / 9)


def test_chunks_search_only_as_deep_as_they_need(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []
    real = retrieval.nearest_neighbours

    def spy(
        queries: torch.Tensor, bank: torch.Tensor, k: int, **kw: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append((queries.shape[0], k))
        return real(queries, bank, k, **kw)

    monkeypatch.setattr(retrieval, "nearest_neighbours", spy)
    gallery, _ = random_problem(3, 50)
    g_labels = torch.tensor([0] * 30 + [1] * 15 + [2] * 5)  # R = 30, 15, 5
    queries, _ = random_problem(4, 9)
    q_labels = torch.tensor([2, 2, 2, 1, 1, 1, 0, 2, 3])  # class 3: R = 0, never searched
    retrieval_metrics(queries, q_labels, gallery, g_labels, ks=(1, 8), chunk_size=3)
    # chunk 1: R = 5 5 5 -> depth max(8, 5) = 8; chunk 2: R = 15 -> 15;
    # chunk 3: R = 30 5 0 -> two rows searched, depth 30.
    assert calls == [(3, 8), (3, 15), (2, 30)]


def test_torch_and_faiss_backends_agree() -> None:
    pytest.importorskip("faiss")
    queries, q_labels = random_problem(5, 30)
    gallery, g_labels = random_problem(6, 80)
    for args in [(queries, q_labels, gallery, g_labels), (gallery, g_labels)]:
        by_torch = retrieval_metrics(*args, ks=(1, 5), chunk_size=8)
        by_faiss = retrieval_metrics(*args, ks=(1, 5), chunk_size=8, backend="faiss")
        for name, values in by_torch.per_query.items():
            np.testing.assert_allclose(by_faiss.per_query[name], values, err_msg=name)


def test_perfectly_separated_classes_score_one() -> None:
    g = torch.Generator().manual_seed(7)
    labels = torch.arange(4).repeat_interleave(10)  # 4 classes of 10
    features = torch.eye(4)[labels] + 0.01 * torch.randn(40, 4, generator=g)
    # Separate gallery of the same layout: R = 10 and the 10 nearest are the class itself.
    gallery = torch.eye(4)[labels] + 0.01 * torch.randn(40, 4, generator=g)
    result = retrieval_metrics(features, labels, gallery, labels, ks=(1, 5, 10))
    expected = dict.fromkeys(result.mean, 1.0)
    expected |= {"recall_at_1": 1 / 10, "recall_at_5": 5 / 10}  # recall@k = min(k, R) / R
    assert result.mean == pytest.approx(expected)
    # Leave-one-out: R = 9; with k = R every metric is exactly 1.
    loo = retrieval_metrics(features, labels, ks=(9,))
    assert loo.mean == pytest.approx(
        {"precision_at_9": 1.0, "recall_at_9": 1.0, "hit_at_9": 1.0, "map_at_r": 1.0}
    )
    assert (loo.per_query["r"] == 9).all()


def test_k_above_the_candidates_is_clipped_and_recorded() -> None:
    features, labels = random_problem(8, 12, classes=3)
    with pytest.warns(UserWarning, match=r"clipped to \(1, 11\)"):
        result = retrieval_metrics(features, labels, ks=(50, 1))
    assert result.requested_ks == (1, 50) and result.ks == (1, 11)
    assert "precision_at_11" in result.mean and "precision_at_50" not in result.mean
    answered = result.per_query["r"] > 0
    # All 11 other items are ranked: recall and hit are 1, precision is R / 11.
    np.testing.assert_allclose(result.per_query["recall_at_11"][answered], 1.0)
    np.testing.assert_allclose(
        result.per_query["precision_at_11"][answered], result.per_query["r"][answered] / 11
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ks": (0, 5)}, r"every k in ks must be a positive integer, got 0"),
        ({"ks": ()}, r"ks must be a non-empty list"),
        ({"ks": (2.5,)}, r"positive integer, got 2.5"),
        ({"chunk_size": 0}, r"chunk_size must be at least 1, got 0"),
        ({"backend": "annoy"}, r"backend must be auto, torch or faiss, got 'annoy'"),
        (
            {"gallery_features": torch.randn(5, 3), "gallery_labels": torch.zeros(5).long()},
            r"query and gallery features differ in dimension: 4 vs 3",
        ),
        (
            {"gallery_features": torch.randn(5, 4), "gallery_labels": torch.zeros(4).long()},
            r"gallery data has 5 samples but 4 labels",
        ),
        ({"gallery_features": torch.randn(5, 4)}, r"without gallery_labels"),
        ({"gallery_labels": torch.zeros(5).long()}, r"gallery_labels were given without"),
        ({"query_labels": torch.zeros(3).long()}, r"query data has 6 samples but 3 labels"),
        ({"query_labels": torch.arange(6), "ks": (1,)}, r"no query has a relevant gallery item"),
    ],
)
def test_bad_input_raises_a_clear_error(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "query_features": torch.randn(6, 4),
        "query_labels": torch.zeros(6).long(),
    }
    with pytest.raises(ContrastlabError, match=message):
        retrieval_metrics(**(args | kwargs))


def test_top_k_indices_ranks_by_cosine() -> None:
    gallery = on_circle([10, 20, 30, 40, 50, 60])
    idx = top_k_indices(on_circle([0, 65]), gallery, 3)
    assert idx.tolist() == [[0, 1, 2], [5, 4, 3]]
    loo = top_k_indices(gallery, gallery, 2, exclude_self=True)
    assert loo.tolist() == [[1, 2], [0, 2], [1, 3], [2, 4], [3, 5], [4, 3]]
    with pytest.raises(ContrastlabError, match=r"k must be in \[1, 6\], got 7"):
        top_k_indices(gallery, gallery, 7)


def test_pick_queries_round_robin_over_classes() -> None:
    labels = np.array([2, 0, 0, 1, 0, 2, 1, 0])
    picks = pick_queries(labels, 6, seed=0)
    assert picks.dtype == np.int64 and len(set(picks.tolist())) == 6
    # class 0, 1, 2, then 0, 1, 2 again (each class has at least two samples)
    assert labels[picks].tolist() == [0, 1, 2, 0, 1, 2]
    assert pick_queries(labels, 6, seed=0).tolist() == picks.tolist()
    everything = pick_queries(torch.as_tensor(labels), 8, seed=1)
    # classes 1 and 2 run out after two picks; class 0 fills the rest
    assert labels[everything].tolist() == [0, 1, 2, 0, 1, 2, 0, 0]
    assert sorted(everything.tolist()) == list(range(8))
    seen = {tuple(pick_queries(labels, 3, seed=s).tolist()) for s in range(10)}
    assert len(seen) > 1  # the seed matters
    with pytest.raises(ContrastlabError, match=r"n must be in \[1, 8\].*got 9"):
        pick_queries(labels, 9, seed=0)
