"""Clustering accuracy: clusters mapped one-to-one onto classes by the Hungarian algorithm.

The unsupervised-clustering metric of IIC (Ji et al. 2019) and DEC before it: labels are used only
to find the cluster -> class assignment that maximises the number of matches
(`scipy.optimize.linear_sum_assignment` on the contingency table); accuracy is the fraction of
samples whose mapped cluster is their class.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics.cluster import contingency_matrix

from contrastlab.errors import ContrastlabError


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


def kmeans_accuracy(features: np.ndarray, labels: np.ndarray, k: int, *, seed: int = 0) -> float:
    """Hungarian accuracy of k-means (scikit-learn, 10 initialisations) on ``features``."""
    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    clusters = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
    return hungarian_accuracy(clusters, labels)
