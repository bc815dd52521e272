"""The grey-image check on real data: the MNIST test split (when ../shared/datasets holds it) as
a stand-in for a user's grey images, through the default `contrastlab train --data ... --budget`.

Run with ``pytest -m slow tests/cli/test_grey_real_data.py``; skipped without the data. The
full-size check (5,000 images, ``--budget 5m``) is measured in the README; this one trains for
one minute on 2,000 images and checks what the fitting decided (grey augmentation, no flips)
and that the trained encoder learned: it beats its random init on kNN and on the linear probe.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contrastlab.cli import main

MNIST = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "mnist-test"


@pytest.mark.slow
@pytest.mark.skipif(not MNIST.is_dir(), reason="needs ../shared/datasets/mnist-test")
def test_default_run_on_mnist_is_fitted_to_grey_images_and_learns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["train", "--data", str(MNIST), "--out", str(out), "--budget", "1m"]
    args += ["--set", "data.holdout=0.5", "--set", "data.limit=2000"]
    args += ["--set", "data.eval_limit=2000"]
    args += ["--set", "eval.protocols=[knn,linear]", "--set", "train.progress=false"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_train"] == 2000 and metrics["n_test"] == 2000
    assert any("grey" in note for note in metrics["adaptations"])
    # a mirrored digit is no digit: the mirror check turns flips off
    assert any("horizontal flips off" in note for note in metrics["adaptations"])
    assert "flip_p: 0.0" in (out / "config.yaml").read_text()
    header = next(line for line in printed.splitlines() if line.startswith("| protocol"))
    assert "| pixels |" in header
    for key in ("knn_top1", "linear_top1"):
        trained, random = metrics[key], metrics[f"random_{key}"]
        assert trained > random, (key, trained, random)
        assert 0.0 <= metrics[f"pixels_{key}"] <= 1.0
