"""Weighted kNN (Wu et al. 2018) against a literal loop, a hand-computed case and its properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate import knn_accuracy, knn_predict


def loop_knn(
    train: torch.Tensor,
    labels: torch.Tensor,
    test: torch.Tensor,
    *,
    num_classes: int,
    k: int,
    temperature: float,
) -> torch.Tensor:
    """One query at a time in float64 numpy; similarity ties go to the earlier training sample."""
    bank = train.double().numpy()
    bank = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    y = labels.numpy()
    predictions = []
    for query in test.double().numpy():
        sim = bank @ (query / np.linalg.norm(query))
        nearest = np.argsort(-sim, kind="stable")[: min(k, len(bank))]
        votes = np.zeros(num_classes)
        for j in nearest:
            votes[y[j]] += math.exp(sim[j] / temperature)
        predictions.append(int(np.argmax(votes)))
    return torch.tensor(predictions, dtype=torch.int64)


def random_problem(
    seed: int, n_train: int = 300, n_test: int = 120, dim: int = 16, num_classes: int = 5
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    train = torch.randn(n_train, dim, generator=g)
    labels = torch.randint(0, num_classes, (n_train,), generator=g)
    test = torch.randn(n_test, dim, generator=g)
    return train, labels, test


@pytest.mark.parametrize("k", [1, 2, 5, 50, 200, 300, 1000])
@pytest.mark.parametrize("temperature", [0.07, 0.1, 0.5])
def test_matches_loop(k: int, temperature: float) -> None:
    train, labels, test = random_problem(seed=k)
    got = knn_predict(train, labels, test, num_classes=5, k=k, temperature=temperature)
    want = loop_knn(train, labels, test, num_classes=5, k=k, temperature=temperature)
    assert got.dtype == torch.int64
    assert got.shape == (test.shape[0],)
    assert torch.equal(got, want)


def test_matches_loop_with_many_similarity_ties() -> None:
    # One-hot features: every similarity is exactly 0 or 1, so most queries have ties that
    # straddle the k-th neighbour; the loop resolves them towards the earlier training sample.
    g = torch.Generator().manual_seed(7)
    train = torch.eye(4)[torch.randint(0, 4, (60,), generator=g)]
    labels = torch.randint(0, 3, (60,), generator=g)
    test = torch.eye(4)[torch.randint(0, 4, (25,), generator=g)]
    for k in (1, 3, 10, 20, 59):
        got = knn_predict(train, labels, test, num_classes=3, k=k, chunk_size=4)
        want = loop_knn(train, labels, test, num_classes=3, k=k, temperature=0.1)
        assert torch.equal(got, want), k


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 119, 120, 4096])
def test_chunk_size_does_not_change_result(chunk_size: int) -> None:
    train, labels, test = random_problem(seed=3)
    reference = knn_predict(train, labels, test, num_classes=5, k=20, chunk_size=1024)
    got = knn_predict(train, labels, test, num_classes=5, k=20, chunk_size=chunk_size)
    assert torch.equal(got, reference)


def hand_case() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Query (1, 0); A has cosine 0.9 (class 0), B and C 0.85 (class 1), D -1 (class 0)."""
    s9, s85 = math.sqrt(1 - 0.9**2), math.sqrt(1 - 0.85**2)
    train = torch.tensor([[0.9, s9], [0.85, s85], [0.85, -s85], [-1.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 0])
    query = torch.tensor([[2.0, 0.0]])  # not unit length: kNN normalises it
    return train, labels, query


@pytest.mark.parametrize(
    ("k", "temperature", "expected"),
    [
        # k=1: only A votes.
        (1, 0.1, 0),
        # k=3, t=0.1: class 0 gets e^9 = 8103, class 1 gets 2 e^8.5 = 9830 -> class 1.
        (3, 0.1, 1),
        # k=3, t=0.01: e^90 vs 2 e^85 -> class 0, although class 1 holds the majority
        # (and e^90 overflows float32: the vote must still be right).
        (3, 0.01, 0),
        # k=3, t=1: e^0.9 = 2.46 vs 2 e^0.85 = 4.68 -> class 1.
        (3, 1.0, 1),
        # k=4 (and k beyond N): D adds e^-10 to class 0, which changes nothing.
        (4, 0.1, 1),
        (200, 0.1, 1),
    ],
)
def test_hand_computed_case(k: int, temperature: float, expected: int) -> None:
    class_0 = math.exp(0.9 / temperature) + (math.exp(-1 / temperature) if k >= 4 else 0.0)
    class_1 = 2 * math.exp(0.85 / temperature) if k >= 3 else 0.0
    assert (class_1 > class_0) == (expected == 1)  # the comments above are right
    train, labels, query = hand_case()
    got = knn_predict(train, labels, query, num_classes=2, k=k, temperature=temperature)
    assert got.tolist() == [expected]


def test_training_order_does_not_matter() -> None:
    train, labels, test = random_problem(seed=11)
    reference = knn_predict(train, labels, test, num_classes=5, k=15)
    perm = torch.randperm(train.shape[0], generator=torch.Generator().manual_seed(0))
    assert torch.equal(knn_predict(train[perm], labels[perm], test, num_classes=5, k=15), reference)


def test_ties_are_broken_deterministically() -> None:
    # Two training samples identical to the query (classes 2 and 1), one orthogonal (class 0).
    train = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    query = torch.tensor([[1.0, 0.0]])
    # Similarity tie at the k-th neighbour: the earlier training sample is the neighbour.
    assert knn_predict(train, torch.tensor([2, 1, 0]), query, num_classes=3, k=1).item() == 2
    assert knn_predict(train, torch.tensor([1, 2, 0]), query, num_classes=3, k=1).item() == 1
    # Tie between class totals: the smaller class index wins, in either order.
    for labels in (torch.tensor([2, 1, 0]), torch.tensor([1, 2, 0])):
        for k in (2, 3):
            assert knn_predict(train, labels, query, num_classes=3, k=k).item() == 1


def test_runs_in_float64_when_given_float64() -> None:
    train, labels, test = random_problem(seed=5)
    got = knn_predict(train.double(), labels, test.double(), num_classes=5, k=10)
    assert torch.equal(got, loop_knn(train, labels, test, num_classes=5, k=10, temperature=0.1))


def test_accuracy_is_one_on_separated_clusters() -> None:
    g = torch.Generator().manual_seed(0)
    centres = torch.eye(8)[:4] * 10
    train_labels = torch.arange(4).repeat_interleave(100)
    test_labels = torch.arange(4).repeat(50)
    train = centres[train_labels] + torch.randn(400, 8, generator=g)
    test = centres[test_labels] + torch.randn(200, 8, generator=g)
    # k=200 reaches into other clusters, but their votes weigh about e^-10 as much.
    assert knn_accuracy(train, train_labels, test, test_labels, num_classes=4, k=200) == 1.0


def test_accuracy_is_chance_on_random_labels() -> None:
    num_classes, n_test = 10, 2000
    train, labels, test = random_problem(seed=1, n_train=2000, n_test=n_test, dim=32)
    labels = torch.randint(0, num_classes, (2000,), generator=torch.Generator().manual_seed(2))
    test_labels = torch.randint(
        0, num_classes, (n_test,), generator=torch.Generator().manual_seed(3)
    )
    accuracy = knn_accuracy(train, labels, test, test_labels, num_classes=num_classes, k=50)
    p = 1 / num_classes
    bound = 5 * math.sqrt(p * (1 - p) / n_test)  # five binomial standard deviations
    assert abs(accuracy - p) < bound


def test_class_absent_from_training_is_allowed() -> None:
    train, labels, test = random_problem(seed=2)
    test_labels = torch.full((test.shape[0],), 5)  # class 5 never occurs in training
    assert knn_accuracy(train, labels, test, test_labels, num_classes=6, k=5) == 0.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"train_labels": torch.tensor([0, -1, 1, -1])},
            "evaluation needs labelled data: 2 of 4 training samples have no label",
        ),
        ({"num_classes": 2}, "num_classes=2 does not cover the training labels"),
        ({"train_labels": torch.tensor([0, 1, 2])}, "training data has 4 samples but 3 labels"),
        ({"test_features": torch.ones(2, 3)}, "differ in dimension: 2 vs 3"),
        (
            {"train_features": torch.ones(0, 2), "train_labels": torch.ones(0, dtype=torch.long)},
            "at least one training sample",
        ),
        ({"test_features": torch.tensor([[1.0, float("nan")]])}, "1 non-finite values"),
        ({"train_labels": torch.tensor([0.0, 1.0, 2.0, 1.0])}, "must be integers"),
        ({"k": 0}, "k must be at least 1"),
        ({"temperature": 0.0}, "temperature must be positive"),
        ({"chunk_size": 0}, "chunk_size must be at least 1"),
    ],
)
def test_errors(change: dict[str, object], message: str) -> None:
    kwargs: dict[str, object] = {
        "train_features": torch.eye(2).repeat(2, 1),
        "train_labels": torch.tensor([0, 1, 2, 1]),
        "test_features": torch.ones(1, 2),
        "num_classes": 3,
    }
    kwargs.update(change)
    with pytest.raises(ContrastlabError, match=message):
        knn_predict(**kwargs)  # type: ignore[arg-type]


def test_accuracy_checks_test_labels() -> None:
    train, labels = torch.eye(2), torch.tensor([0, 1])
    with pytest.raises(ContrastlabError, match="1 of 2 test samples have no label"):
        knn_accuracy(train, labels, train, torch.tensor([0, -1]), num_classes=2)
    with pytest.raises(ContrastlabError, match="num_classes=2 does not cover the test labels"):
        knn_accuracy(train, labels, train, torch.tensor([0, 2]), num_classes=2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_matches_loop_including_ties() -> None:
    train, labels, test = random_problem(seed=4)
    got = knn_predict(train.cuda(), labels, test.cuda(), num_classes=5, k=25)
    assert got.device.type == "cuda"
    want = loop_knn(train, labels, test, num_classes=5, k=25, temperature=0.1)
    assert torch.equal(got.cpu(), want)
    one_hot = torch.eye(4)
    g = torch.Generator().manual_seed(7)
    train, labels = one_hot[torch.randint(0, 4, (60,), generator=g)], labels[:60] % 3
    test = one_hot[torch.randint(0, 4, (25,), generator=g)]
    got = knn_predict(train.cuda(), labels, test.cuda(), num_classes=3, k=10)
    want = loop_knn(train, labels, test, num_classes=3, k=10, temperature=0.1)
    assert torch.equal(got.cpu(), want)


# -- against scikit-learn, the majority vote, top-5 and the faiss backend -------------------------


def _sklearn_knn(
    train: torch.Tensor, labels: torch.Tensor, test: torch.Tensor, k: int, weights: object
) -> np.ndarray:
    from sklearn.neighbors import KNeighborsClassifier

    model = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute", weights=weights)
    return np.asarray(model.fit(train.double().numpy(), labels.numpy()).predict(test.numpy()))


@pytest.mark.parametrize("k", [1, 7, 40])
def test_weighted_vote_matches_scikit_learn(k: int) -> None:
    """scikit-learn's KNeighborsClassifier, cosine distance d = 1 - sim, weight exp((1 - d) / t):
    the same classifier written independently (continuous random features: no ties)."""
    gen = torch.Generator().manual_seed(11)
    train, test = torch.randn(300, 12, generator=gen), torch.randn(120, 12, generator=gen)
    labels = torch.randint(0, 5, (300,), generator=gen)
    t = 0.1

    def weights(distances: np.ndarray) -> np.ndarray:
        return np.asarray(np.exp((1.0 - distances) / t))

    ours = knn_predict(train.double(), labels, test.double(), num_classes=5, k=k, temperature=t)
    assert np.array_equal(ours.numpy(), _sklearn_knn(train, labels, test, k, weights))


@pytest.mark.parametrize("k", [1, 6, 25])
def test_majority_vote_matches_scikit_learn(k: int) -> None:
    gen = torch.Generator().manual_seed(12)
    train, test = torch.randn(200, 8, generator=gen), torch.randn(90, 8, generator=gen)
    labels = torch.randint(0, 4, (200,), generator=gen)
    ours = knn_predict(train.double(), labels, test.double(), num_classes=4, k=k, vote="majority")
    assert np.array_equal(ours.numpy(), _sklearn_knn(train, labels, test, k, "uniform"))


def test_majority_and_weighted_votes_differ_on_a_hand_made_case() -> None:
    """Three neighbours: one of class 0 at cosine 1, two of class 1 at cosine 0.6. Majority: 2 votes
    to 1 for class 1. Weighted (t=0.1): exp(0) = 1 for class 0 vs 2 exp(-4) = 0.037 for class 1."""
    train = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.6, -0.8], [-1.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 2])
    query = torch.tensor([[1.0, 0.0]])
    common = {"num_classes": 3, "k": 3, "temperature": 0.1}
    assert knn_predict(train, labels, query, vote="majority", **common).tolist() == [1]
    assert knn_predict(train, labels, query, vote="weighted", **common).tolist() == [0]


def test_top5_by_hand() -> None:
    """Query at class 0's point; k = 7 neighbours with majority votes 0:1, 1:2, 2:1, 3:1, 4:1,
    5:1 -> ranking 1, 0, 2, 3, 4 (ties to the smaller class), 5 falls off: top-1 wrong, top-5 right
    for truth 0, and top-5 wrong for truth 5."""
    angles = torch.linspace(0, 0.6, 7)
    train = torch.stack([angles.cos(), angles.sin()], dim=1)
    labels = torch.tensor([0, 1, 1, 2, 3, 4, 5])
    query = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    from contrastlab.evaluate.knn import knn_scores

    scores = knn_scores(
        train, labels, query, torch.tensor([0, 5]), num_classes=6, k=7, vote="majority"
    )
    assert scores == {"top1": 0.0, "top5": 0.5}


def test_faiss_backend_matches_torch() -> None:
    pytest.importorskip("faiss")
    gen = torch.Generator().manual_seed(13)
    train, test = torch.randn(500, 16, generator=gen), torch.randn(200, 16, generator=gen)
    labels = torch.randint(0, 10, (500,), generator=gen)
    common = {"num_classes": 10, "k": 20, "temperature": 0.07}
    by_torch = knn_predict(train, labels, test, backend="torch", **common)
    by_faiss = knn_predict(train, labels, test, backend="faiss", **common)
    assert torch.equal(by_torch, by_faiss)


def test_faiss_backend_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import contrastlab.evaluate.neighbours as neighbours

    monkeypatch.setattr(neighbours, "faiss_available", lambda: False)
    x = torch.randn(4, 3)
    with pytest.raises(ContrastlabError, match="pip install faiss-cpu"):
        knn_predict(x, torch.tensor([0, 1, 0, 1]), x, num_classes=2, backend="faiss")
    assert neighbours.resolve_backend("auto") == "torch"


def test_similarity_blocks_are_bounded_without_changing_the_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A tiny block budget (one query row per block, as for a huge bank) gives the same votes."""
    import contrastlab.evaluate.neighbours as neighbours

    gen = torch.Generator().manual_seed(14)
    train, test = torch.randn(300, 8, generator=gen), torch.randn(70, 8, generator=gen)
    labels = torch.randint(0, 5, (300,), generator=gen)
    expected = knn_predict(train, labels, test, num_classes=5, k=30)
    monkeypatch.setattr(neighbours, "BLOCK_ELEMENTS", 301)
    assert torch.equal(knn_predict(train, labels, test, num_classes=5, k=30), expected)
    sims, idx = neighbours.nearest_neighbours(test, train, 30)
    assert sims.shape == idx.shape == (70, 30)
