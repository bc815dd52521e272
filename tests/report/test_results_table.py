"""The results table: trained, random init and pixels side by side, "—" where a figure is absent."""

from __future__ import annotations

from contrastlab.report import results_table


def test_header_and_the_pixels_column() -> None:
    metrics = {
        "knn_top1": 0.9,
        "random_knn_top1": 0.3,
        "pixels_knn_top1": 0.45,
        "finetune_top1_1pct": 0.8,
        "random_finetune_top1_1pct": 0.4,
        "protocols": {
            "knn": {"k": 200, "k_requested": 200, "temperature": 0.1, "vote": "weighted"},
            "linear": {"solver": "lbfgs", "pixels_train_subset": 5000},
            "finetune": {"epochs": 30, "pixels": "not run"},
        },
        "linear_top1": 0.7,
        "pixels_linear_top1": 0.4,
    }
    lines = results_table(metrics).splitlines()
    assert lines[:2] == [
        "| protocol | trained | random init | pixels | notes |",
        "|---|---:|---:|---:|---|",
    ]
    assert lines[2] == "| kNN top-1 | 0.900 | 0.300 | 0.450 | weighted, k=200, t=0.1 |"
    assert lines[3].startswith("| linear probe top-1 | 0.700 | — | 0.400 | logistic regression")
    assert lines[3].endswith("; pixels: fitted on 5000 training images |")
    assert lines[4].startswith("| fine-tune 1% labels top-1 | 0.800 | 0.400 | — | whole network")
    assert len(lines) == 5
