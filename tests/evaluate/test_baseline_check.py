"""The baseline check: which headline figures the trained encoder beats (strictly), by hand."""

from __future__ import annotations

from contrastlab.evaluate.baseline_check import (
    baseline_check,
    baseline_summary,
    below_baseline,
    warning_lines,
)


def test_each_headline_against_each_baseline() -> None:
    metrics = {
        "knn_top1": 0.162,
        "random_knn_top1": 0.475,
        "pixels_knn_top1": 0.1,
        "linear_top1": 0.5,
        "random_linear_top1": 0.5,  # a tie is not a win
        "pixels_linear_top1": 0.6,
        "knn_top5": 0.9,  # not a headline figure
        "random_knn_top5": 0.95,
    }
    check = baseline_check(metrics)
    assert check == {
        "knn_top1": {
            "trained": 0.162,
            "random": 0.475,
            "pixels": 0.1,
            "beats_random": False,
            "beats_pixels": True,
        },
        "linear_top1": {
            "trained": 0.5,
            "random": 0.5,
            "pixels": 0.6,
            "beats_random": False,
            "beats_pixels": False,
        },
    }
    assert below_baseline(check) == [
        "kNN top-1: trained 0.162 <= random init 0.475",
        "linear probe top-1: trained 0.500 <= random init 0.500",
        "linear probe top-1: trained 0.500 <= raw pixels 0.600",
    ]
    assert warning_lines(check)[0] == (
        "WARNING: the trained encoder does not beat random init on kNN top-1 (0.162 vs 0.475)"
    )
    assert len(warning_lines(check)) == 3


def test_missing_figures_are_skipped() -> None:
    metrics = {
        "knn_top1": 0.9,
        "pixels_knn_top1": 0.4,  # no random twin (--no-baseline, or eval.random_baseline=false)
        "retrieval_map_at_r": 0.3,  # no baseline at all: no entry
        "random_kmeans_acc": 0.2,  # no trained figure: no entry
        "finetune_top1_10pct": 0.8,
        "random_finetune_top1_10pct": 0.7,
        "finetune_top1_1pct": 0.5,
        "random_finetune_top1_1pct": 0.6,
    }
    check = baseline_check(metrics)
    assert list(check) == ["knn_top1", "finetune_top1_1pct", "finetune_top1_10pct"]
    assert check["knn_top1"] == {"trained": 0.9, "pixels": 0.4, "beats_pixels": True}
    assert check["finetune_top1_10pct"] == {"trained": 0.8, "random": 0.7, "beats_random": True}
    assert below_baseline(check) == [
        "fine-tune 1% labels top-1: trained 0.500 <= random init 0.600"
    ]


def test_winning_everywhere_is_one_line() -> None:
    metrics = {
        "knn_top1": 0.9,
        "random_knn_top1": 0.3,
        "pixels_knn_top1": 0.5,
        "kmeans_acc": 0.7,
        "random_kmeans_acc": 0.2,
        "pixels_kmeans_acc": 0.25,
    }
    summary = baseline_summary(metrics)
    assert summary["below_baseline"] == []
    assert warning_lines(summary["baseline_check"]) == [
        "The trained encoder beats random init and raw pixels on every protocol."
    ]
    only_random = {"linear_top1": 0.9, "random_linear_top1": 0.3}
    assert warning_lines(baseline_check(only_random)) == [
        "The trained encoder beats random init on every protocol."
    ]


def test_no_baseline_says_nothing() -> None:
    assert baseline_summary({"knn_top1": 0.9}) == {"baseline_check": {}, "below_baseline": []}
    assert warning_lines({}) == []


def test_nan_never_beats() -> None:
    check = baseline_check({"knn_top1": float("nan"), "random_knn_top1": 0.2})
    assert check["knn_top1"]["beats_random"] is False
    assert below_baseline(check) == ["kNN top-1: trained nan <= random init 0.200"]
