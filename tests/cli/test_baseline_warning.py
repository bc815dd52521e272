"""A run that learned nothing says so: metrics.json's baseline check, WARNING lines under the
printed table of `contrastlab train` and `contrastlab eval`, and a bold line in report.md; the raw
pixels have their own column and figures, and kNN's k is the one the small bank supports; no
pixel row when its features would be too large, or with eval.pixel_baseline=false."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from contrastlab.api.data import prepare_data
from contrastlab.api.evaluation import evaluate_with_baseline
from contrastlab.cli import main
from contrastlab.config import DEFAULT_RECIPE, load_recipe
from contrastlab.evaluate.pixels import PixelFeatures

# Adam at lr 1000 wrecks the tiny encoder in its 3 steps (the loss stays finite; skip anyway)
FAILING = ["--set", "optim.lr=1000", "--set", "train.on_nonfinite=skip"]


def _warnings(printed: str) -> list[str]:
    return [line for line in printed.splitlines() if line.startswith("WARNING: ")]


def test_a_failed_run_is_flagged_everywhere(
    tmp_path: Path, tiny_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "1", *tiny_args, *FAILING]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())

    check, below = metrics["baseline_check"], metrics["below_baseline"]
    assert set(check) == {"knn_top1", "linear_top1", "retrieval_map_at_r", "kmeans_acc"}
    assert below, "the wrecked encoder should lose to raw pixels or random init somewhere"
    losses = [(k, b) for k, e in check.items() for b in ("random", "pixels") if not e[f"beats_{b}"]]
    assert len(below) == len(losses)
    for key, entry in check.items():
        assert entry["pixels"] == metrics[f"pixels_{key}"]
        assert entry["beats_pixels"] is (metrics[key] > metrics[f"pixels_{key}"])

    warnings = _warnings(printed)
    assert len(warnings) == len(below)
    assert all("the trained encoder does not beat" in line for line in warnings)
    assert "| protocol | trained | random init | pixels | notes |" in printed
    report = (out / "report.md").read_text()
    results = report[report.index("## Results") : report.index("| protocol |")]
    assert all(f"**{line}**" in results for line in warnings)

    # the pixel row: every frozen-feature protocol, on C*H*W = 3*16*16 features
    assert metrics["pixels_feature_dim"] == 768 and metrics["pixels_n_train"] == 96
    assert 0.0 <= metrics["pixels_linear_top1"] <= 1.0
    # 96 training images of 6 classes support k = 16, not the 20 asked for
    knn = metrics["protocols"]["knn"]
    assert (knn["k"], knn["k_requested"], knn["bank_size"], knn["classes"]) == (16, 20, 96, 6)
    assert "k=16 (20 requested; 96-image bank, 6 classes)" in printed

    # `contrastlab eval` on the run finds the same figures and prints the same warnings
    assert main(["eval", str(out), "--set", "train.progress=false"]) == 0
    assert _warnings(capsys.readouterr().out) == warnings
    again = json.loads((out / "metrics.json").read_text())
    assert (
        again["below_baseline"] == below and again["pixels_knn_top1"] == metrics["pixels_knn_top1"]
    )
    # without baselines the kNN figures lose their twins, and their check with them
    assert main(["eval", str(out), "--protocol", "knn", "--no-baseline"]) == 0
    merged = json.loads((out / "metrics.json").read_text())
    assert "pixels_knn_top1" not in merged and "random_knn_top1" not in merged
    assert "knn_top1" not in merged["baseline_check"]
    assert merged["baseline_check"]["linear_top1"] == check["linear_top1"]


@pytest.mark.parametrize("switch", ["too large", "eval.pixel_baseline=false"])
def test_no_pixel_row_when_too_large_or_switched_off(
    monkeypatch: pytest.MonkeyPatch, switch: str
) -> None:
    settings: list[tuple[str, Any]] = [
        ("data.options.n_train", 60),
        ("data.options.n_test", 30),
        ("data.image_size", 16),
        ("eval.protocols", ["knn"]),
        ("train.progress", False),
    ]
    if switch == "too large":
        monkeypatch.setattr("contrastlab.evaluate.pixels.PIXEL_MAX_VALUES", 90 * 768 - 1)
    else:
        settings.append(("eval.pixel_baseline", False))
    recipe = load_recipe(DEFAULT_RECIPE, settings)
    data = prepare_data(recipe.data)
    _, mean, std = recipe.data.encoder_inputs()
    encoder = PixelFeatures(mean, std)  # any encoder will do
    figures = evaluate_with_baseline(recipe, encoder, None, data, torch.device("cpu"))
    assert figures["knn_top1"] >= 0.0 and not any(key.startswith("pixels_") for key in figures)
    note = figures["protocols"]["knn"].get("pixels", "")
    assert note.startswith("not run: 90 images x 768 values") is (switch == "too large")
