"""Frozen-feature evaluation: feature extraction, weighted kNN, linear probe, both together."""

from __future__ import annotations

from contrastlab.evaluate.clustering import hungarian_accuracy, kmeans_accuracy
from contrastlab.evaluate.features import extract_features
from contrastlab.evaluate.knn import knn_accuracy, knn_predict
from contrastlab.evaluate.linear import LinearProbeResult, linear_probe
from contrastlab.evaluate.protocol import EvalResult, evaluate_encoder

__all__ = [
    "EvalResult",
    "LinearProbeResult",
    "evaluate_encoder",
    "extract_features",
    "hungarian_accuracy",
    "kmeans_accuracy",
    "knn_accuracy",
    "knn_predict",
    "linear_probe",
]
