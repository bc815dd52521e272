"""`contrastlab train --data FOLDER`: a bundled recipe fitted to the user's images and to
``--budget``, said on the console, in metrics.json, config.yaml and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from contrastlab.cli import main
from contrastlab.config import build_recipe

SMALL = [
    *("--set", "data.image_size=16", "--set", "model.width=0.0625"),
    *("--set", "model.head_out_dim=8", "--set", "train.progress=false"),
    *("--set", "eval.protocols=[knn]", "--set", "eval.batch_size=64"),
]


def grey_folder(root: Path, per_class: int = 40) -> Path:
    """Two classes of 16x16 grey images: a bright square left or right, with noise."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(("left", "right")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, (16, 16), dtype=np.uint8)
            pixels[4:12, 8 * label : 8 * label + 8] = 220
            Image.fromarray(pixels, mode="L").save(root / name / f"{i}.png")
    return root


def test_a_users_grey_images_get_a_fitted_recipe_and_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = grey_folder(tmp_path / "my_scans"), tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(out), "--budget", "10s", *SMALL]
    assert main(args) == 0
    printed = capsys.readouterr()
    metrics = json.loads((out / "metrics.json").read_text())
    recipe = build_recipe(yaml.safe_load((out / "config.yaml").read_text()))
    assert recipe.name == "simclr_my_scans"
    assert recipe.augment.gray_p == 0.0 and recipe.augment.blur_p == 0.5
    assert recipe.train.batch_size == 16  # 64 training images (80%) / 8 = 8 -> at least 16
    budget = metrics["budget"]
    assert recipe.train.epochs == budget["epochs"] and metrics["epochs"] == budget["epochs"]
    assert metrics["steps"] == budget["steps"] == budget["epochs"] * (64 // 16)
    assert budget["steps"] * budget["step_seconds"] == pytest.approx(10, rel=0.5)
    assert any("grey" in note for note in metrics["adaptations"])
    assert any(note.startswith("--budget 10s") for note in metrics["adaptations"])
    assert "fitted to the data: batch 256 -> 16" in printed.out
    report = (out / "report.md").read_text()
    assert report.startswith("# simclr_my_scans") and "--budget 10s" in report
    assert "built-in shapes" not in report.split("## Recipe")[0]


def test_no_adapt_and_pinned_keys_keep_the_recipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = grey_folder(tmp_path / "scans", per_class=20), tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(out), "--epochs", "1", *SMALL]
    assert main([*args, "--no-adapt", "--batch-size", "8"]) == 0
    recipe = build_recipe(yaml.safe_load((out / "config.yaml").read_text()))
    assert recipe.name.startswith("simclr_resnet18") and recipe.augment.gray_p == 0.5
    assert json.loads((out / "metrics.json").read_text())["adaptations"] == []
    pinned = tmp_path / "pinned"
    more = ["--batch-size", "8", "--set", "augment.blur_p=0.25", "--set", "name=mine"]
    again = ["train", "--data", str(data), "--out", str(pinned), "--epochs", "1", *SMALL]
    assert main([*again, *more]) == 0
    recipe = build_recipe(yaml.safe_load((pinned / "config.yaml").read_text()))
    assert recipe.name == "mine" and recipe.train.epochs == 1 and recipe.train.batch_size == 8
    assert recipe.augment.blur_p == 0.25 and recipe.augment.gray_p == 0.5  # augment.* pinned
    capsys.readouterr()


@pytest.mark.parametrize("budget", ["10", "3s"])
def test_a_bad_budget_is_one_line(budget: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--budget", budget]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--budget" in err[0]
    assert ("90s, 10m or 1.5h" if budget == "10" else "between 10 s and 7 days") in err[0]


def test_budget_with_resume_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--resume", str(tmp_path), "--budget", "1m"]) == 2
    assert "resumed run keeps the length" in capsys.readouterr().err
