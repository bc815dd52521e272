"""Clustering accuracy: clusters mapped one-to-one onto classes by the Hungarian algorithm.

The unsupervised-clustering metric of IIC (Ji et al. 2019) and DEC before it: labels are used only
to find the cluster -> class assignment that maximises the number of matches
(`scipy.optimize.linear_sum_assignment` on the contingency table); accuracy is the fraction of
samples whose mapped cluster is their class. Beside it, two permutation-free scores from
scikit-learn: normalised mutual information (NMI, arithmetic-mean normalisation) and the
adjusted Rand index (ARI, 0 in expectation for a random clustering, 1 for a perfect one).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

from contrastlab.core.errors import ContrastlabError


def hungarian_accuracy(clusters: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples correct under the best one-to-one map of clusters onto classes.

    With more clusters than classes, the surplus clusters map to nothing and count as wrong (the
    one-to-one protocol of IIC's evaluation); with fewer, some classes get no cluster.
    """
    clusters, labels = np.asarray(clusters).ravel(), np.asarray(labels).ravel()
    if clusters.shape != labels.shape or clusters.size == 0:
        raise ContrastlabError(
            f"clusters and labels must be equal-length and non-empty, got {clusters.size} and "
            f"{labels.size}"
        )
    table = contingency_matrix(labels, clusters)  # (classes, clusters)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / clusters.size)


def cluster_scores(clusters: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``{"acc": Hungarian accuracy, "nmi": NMI, "ari": ARI}`` of a clustering against labels."""
    acc = hungarian_accuracy(clusters, labels)
    clusters, labels = np.asarray(clusters).ravel(), np.asarray(labels).ravel()
    return {
        "acc": acc,
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
        "ari": float(adjusted_rand_score(labels, clusters)),
    }


def kmeans_clusters(
    features: np.ndarray, k: int, *, seed: int = 0, restarts: int = 10
) -> np.ndarray:
    """k-means (scikit-learn, k-means++ starts, the best of ``restarts``) cluster of each row."""
    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    if not 2 <= k <= len(x):
        raise ContrastlabError(f"k-means needs 2 <= k <= {len(x)} samples, got k={k}")
    if restarts < 1:
        raise ContrastlabError(f"restarts must be at least 1, got {restarts}")
    return np.asarray(KMeans(n_clusters=k, n_init=restarts, random_state=seed).fit_predict(x))


def kmeans_accuracy(features: np.ndarray, labels: np.ndarray, k: int, *, seed: int = 0) -> float:
    """Hungarian accuracy of k-means (scikit-learn, 10 initialisations) on ``features``."""
    return hungarian_accuracy(kmeans_clusters(features, k, seed=seed), labels)
