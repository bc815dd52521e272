"""`contrastlab eval --protocol ...` and `evaluate_run`: every protocol from the command line, the
figures merged into metrics.json with their parameters, and checked against independent code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from contrastlab.api.data import prepare_data
from contrastlab.api.evaluate_run import evaluate_run
from contrastlab.api.loading import load_model
from contrastlab.cli import main
from contrastlab.evaluate import extract_features

QUICK_FINETUNE = ["--set", "eval.finetune_epochs=2", "--set", "eval.finetune_batch_size=16"]


def test_all_protocols_in_one_table(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["eval", str(run), "--protocol", "all", *QUICK_FINETUNE]) == 0
    table = capsys.readouterr().out
    for row in (
        "| kNN top-1 |",
        "| linear probe top-5 |",
        "| retrieval mAP@R |",
        "| retrieval hit@10 |",
        "| k-means NMI |",
        "| fine-tune 1% labels top-1 |",
        "| fine-tune 10% labels top-1 |",
    ):
        assert table.count(row) == 1, row
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["protocols"]) == {"knn", "linear", "retrieval", "clustering", "finetune"}
    assert metrics["protocols"]["finetune"]["epochs"] == 2
    assert metrics["protocols"]["knn"]["checkpoint_epoch"] == 1
    # 1% of 96 training images is 1, but every one of the 6 classes gets one labelled image
    assert metrics["finetune_labelled_1pct"] == 6 and metrics["random_finetune_labelled_1pct"] == 6
    for key in ("finetune_top1_1pct", "random_finetune_top1_10pct", "kmeans_ari"):
        assert -1.0 <= metrics[key] <= 1.0
    assert metrics["epochs"] == 1 and "train_seconds" in metrics  # training figures kept
    assert (run / "figures" / "retrieval.png").stat().st_size > 10_000
    table = np.genfromtxt(run / "retrieval_per_query.csv", delimiter=",", names=True)
    assert len(table) == metrics["n_test"] == 48
    assert np.nanmean(table["map_at_r"]) == pytest.approx(metrics["retrieval_map_at_r"], rel=1e-5)
    assert np.nanmean(table["hit_at_5"]) == pytest.approx(metrics["retrieval_hit_at_5"], rel=1e-5)


def test_a_later_protocol_is_merged_and_stale_twins_dropped(run: Path) -> None:
    trained = json.loads((run / "metrics.json").read_text())
    assert "finetune" not in trained["protocols"]  # not a default protocol
    assert main(["eval", str(run), "--protocol", "knn", "--no-baseline"]) == 0
    merged = json.loads((run / "metrics.json").read_text())
    assert merged["knn_top1"] == pytest.approx(trained["knn_top1"])
    assert "random_knn_top1" not in merged and "random_knn_top5" not in merged
    assert merged["random_linear_top1"] == trained["random_linear_top1"]  # not re-run, kept
    assert merged["train_seconds"] == trained["train_seconds"]


def test_majority_vote_matches_scikit_learn_on_the_run(run: Path) -> None:
    figures = evaluate_run(
        run,
        protocols=["knn"],
        overrides=[("eval.knn_vote", "majority"), ("eval.knn_k", 7), ("train.progress", False)],
        baseline=False,
        out=run / "majority.json",
    )
    assert figures["protocols"]["knn"]["vote"] == "majority"
    assert json.loads((run / "majority.json").read_text())["knn_top1"] == figures["knn_top1"]
    loaded = load_model(run, [])
    data = prepare_data(loaded.recipe.data)
    assert data.test is not None
    encoder = loaded.representation()
    train = extract_features(encoder, data.train.images).double().numpy()
    test = extract_features(encoder, data.test.images).double().numpy()
    model = KNeighborsClassifier(n_neighbors=7, metric="cosine", algorithm="brute")
    predicted = model.fit(train, data.train.labels.numpy()).predict(test)
    assert figures["knn_top1"] == pytest.approx(np.mean(predicted == data.test.labels.numpy()))


def test_sgd_probe_from_the_command_line(run: Path) -> None:
    assert (
        main(
            [
                "eval",
                str(run),
                "--protocol",
                "linear",
                "--no-baseline",
                "--set",
                "eval.linear_solver=sgd",
                "--set",
                "eval.linear_epochs=3",
                "--set",
                "eval.linear_augment=true",
            ]
        )
        == 0
    )
    metrics = json.loads((run / "metrics.json").read_text())
    params = metrics["protocols"]["linear"]
    assert params["solver"] == "sgd" and params["augment"] is True and params["epochs"] == 3
    assert 0.0 <= metrics["linear_top1"] <= metrics["linear_top5"] <= 1.0
    assert "linear_c" not in metrics


def test_other_data_drops_the_run_source_options(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run trained on shapes with shapes' own options (n_train, n_test); evaluating it on
    digits must not hand those options to the digits source."""
    out = run / "digits.json"
    args = ["eval", str(run), "--data", "digits", "--protocol", "knn", "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    figures = json.loads(out.read_text())
    assert figures["data"] == "digits" and figures["n_test"] == 540
    assert figures["protocols"]["knn"]["data"] == "digits"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--protocol", "knn,bogus"], "unknown protocol bogus; valid: knn, linear"),
        (["--set", "eval.knn_vote=median"], "eval.knn_vote must be one of weighted, majority"),
        (["--set", "eval.finetune_fractions=[0]"], "eval.finetune_fractions must be fractions"),
        (["--set", "eval.linear_augment=true"], "eval.linear_solver must be sgd when"),
    ],
)
def test_bad_protocol_settings_exit_2(
    run: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    capsys.readouterr()
    assert main(["eval", str(run), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
