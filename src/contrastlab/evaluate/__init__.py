"""Evaluation protocols on frozen or fine-tuned encoders: feature extraction, kNN (weighted or
majority), linear probes (L-BFGS or SGD), retrieval, clustering, few-label fine-tuning, the suite
that runs any set of them, and embeddings written to disk with a 2-D map."""

from __future__ import annotations

from contrastlab.evaluate.clustering import (
    cluster_scores,
    hungarian_accuracy,
    kmeans_accuracy,
    kmeans_clusters,
)
from contrastlab.evaluate.features import extract_features
from contrastlab.evaluate.finetune import FinetuneResult, finetune, labelled_subset
from contrastlab.evaluate.knn import knn_accuracy, knn_predict, knn_scores
from contrastlab.evaluate.linear import LinearProbeResult, linear_probe
from contrastlab.evaluate.linear_sgd import sgd_linear_probe
from contrastlab.evaluate.neighbours import nearest_neighbours
from contrastlab.evaluate.protocol import EvalResult, evaluate_encoder
from contrastlab.evaluate.retrieval import RetrievalResult, retrieval_metrics
from contrastlab.evaluate.suite import EvalData, SuiteOptions, protocol_params, run_protocols

__all__ = [
    "EvalData",
    "EvalResult",
    "FinetuneResult",
    "LinearProbeResult",
    "RetrievalResult",
    "SuiteOptions",
    "cluster_scores",
    "evaluate_encoder",
    "extract_features",
    "finetune",
    "hungarian_accuracy",
    "kmeans_accuracy",
    "kmeans_clusters",
    "knn_accuracy",
    "knn_predict",
    "knn_scores",
    "labelled_subset",
    "linear_probe",
    "nearest_neighbours",
    "protocol_params",
    "retrieval_metrics",
    "run_protocols",
    "sgd_linear_probe",
]
