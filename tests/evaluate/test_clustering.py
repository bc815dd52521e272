"""Clustering scores: Hungarian accuracy, NMI and ARI against hand-computed cases and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate.clustering import cluster_scores, hungarian_accuracy, kmeans_clusters


def test_label_permuted_perfect_clustering_scores_one() -> None:
    labels = np.repeat(np.arange(5), 7)
    clusters = np.array([3, 0, 4, 1, 2])[labels]  # each class is one cluster, renamed
    assert cluster_scores(clusters, labels) == {"acc": 1.0, "nmi": 1.0, "ari": 1.0}


def test_hand_made_case() -> None:
    """Classes 0,0,0,1,1,1 clustered as a,a,b,b,b,b. Contingency [[2,1],[0,3]]: the best one-to-one
    map (a->0, b->1) gets 2 + 3 = 5 of 6 right.
    ARI: sum C(n_ij,2) = C(2,2)+C(3,2) = 1+3 = 4; rows C(3,2)*2 = 6; columns C(2,2)+C(4,2) = 7;
    expected = 6*7/C(6,2) = 42/15 = 2.8; max = (6+7)/2 = 6.5 -> (4-2.8)/(6.5-2.8) = 1.2/3.7.
    NMI: MI = sum p_ij log(p_ij / (p_i p_j)) with p_i = 1/2, p_j = (1/3, 2/3):
    (2/6) log((2/6)/(1/2*1/3)) + (1/6) log((1/6)/(1/2*2/3)) + (3/6) log((3/6)/(1/2*2/3));
    H(classes) = log 2; H(clusters) = -(1/3 log 1/3 + 2/3 log 2/3); NMI = MI / mean of the two."""
    labels = np.array([0, 0, 0, 1, 1, 1])
    clusters = np.array([0, 0, 1, 1, 1, 1])
    mi = (
        (2 / 6) * math.log((2 / 6) / (1 / 6))
        + (1 / 6) * math.log((1 / 6) / (1 / 3))
        + (3 / 6) * math.log((3 / 6) / (1 / 3))
    )
    h_classes = math.log(2)
    h_clusters = -(1 / 3 * math.log(1 / 3) + 2 / 3 * math.log(2 / 3))
    scores = cluster_scores(clusters, labels)
    assert scores["acc"] == pytest.approx(5 / 6)
    assert scores["ari"] == pytest.approx(1.2 / 3.7)
    assert scores["nmi"] == pytest.approx(mi / ((h_classes + h_clusters) / 2))


def test_surplus_clusters_count_as_wrong() -> None:
    """Over-clustering: 4 clusters for 2 classes, one-to-one, so two clusters map to nothing."""
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    clusters = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    assert hungarian_accuracy(clusters, labels) == pytest.approx(4 / 8)


def test_random_clustering_has_ari_near_zero() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 5000)
    scores = cluster_scores(rng.integers(0, 10, 5000), labels)
    assert abs(scores["ari"]) < 0.01
    assert scores["acc"] < 0.15


def test_kmeans_finds_separated_blobs() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 8)) * 20
    labels = np.repeat(np.arange(4), 30)
    features = centres[labels] + rng.normal(size=(120, 8))
    clusters = kmeans_clusters(features, 4, seed=0, restarts=3)
    assert cluster_scores(clusters, labels)["acc"] == 1.0
    assert np.array_equal(clusters, kmeans_clusters(features, 4, seed=0, restarts=3))


@pytest.mark.parametrize(("k", "restarts"), [(1, 10), (200, 10), (3, 0)])
def test_kmeans_bad_arguments(k: int, restarts: int) -> None:
    with pytest.raises(ContrastlabError):
        kmeans_clusters(np.zeros((10, 2)), k, restarts=restarts)
