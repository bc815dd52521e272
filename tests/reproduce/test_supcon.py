"""`contrastlab reproduce supcon`: tiny end to end, resume, and valid paper-scale recipes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from contrastlab.cli import main
from contrastlab.config import load_recipe
from contrastlab.reproduce.papers.supcon import _CIFAR, SCALES


def test_tiny_reproduction_reports_and_resumes(
    tmp_path: Path, gallery_numbers: Callable[[Path, str], None]
) -> None:
    out = tmp_path / "supcon"
    assert main(["reproduce", "supcon", "--scale", "tiny", "--out", str(out)]) == 0
    gallery_numbers(out, "supcon")
    record = json.loads((out / "verdict.json").read_text())
    assert [f["name"] for f in record["findings"]] == ["ranking", "L_out vs L_in"]
    for f in record["findings"]:
        assert f["verdict"] in ("reproduced", "partly", "not reproduced")
        assert f["tests"] and all(isinstance(t["passed"], bool) for t in f["tests"])
    report = (out / "report.md").read_text()
    assert (
        "[V-page]" in report and "[MEM]" in report and "## How the verdicts are decided" in report
    )
    assert "contrastlab train --recipe supcon_resnet18w0.125_shapes_16e" in report
    first = {f["name"]: f["measured"] for f in record["findings"]}
    # a second run reuses every step and measures the same
    assert main(["reproduce", "supcon", "--scale", "tiny", "--out", str(out)]) == 0
    again = json.loads((out / "verdict.json").read_text())
    assert {f["name"]: f["measured"] for f in again["findings"]} == first
    steps = (out / "report.md").read_text().split("## Steps")[1]
    assert steps.count("(reused)") == 4


def test_an_interrupted_training_run_is_continued(tmp_path: Path) -> None:
    """A run stopped after epoch 1 of 2 is continued (train --resume), and ends where an
    uninterrupted reproduction ends."""
    settings = dict(SCALES["tiny"]["settings"])
    SCALES["tiny"]["settings"] = {**settings, "train.epochs": 2}
    try:
        whole, cut = tmp_path / "whole", tmp_path / "cut"
        assert main(["reproduce", "supcon", "--scale", "tiny", "--out", str(whole)]) == 0
        assert main(["reproduce", "supcon", "--scale", "tiny", "--out", str(cut)]) == 0
        run = cut / "runs" / "simclr-s0"
        first = json.loads((run / "metrics.json").read_text())
        for path in [run / "metrics.json", cut / "steps" / "simclr-s0.time.json"]:
            path.unlink()
        # put the run back to its state after epoch 1: train it again, stopped there
        config = run / "config.yaml"
        text = config.read_text()
        shutil.rmtree(run)
        run.mkdir()
        (tmp_path / "recipe.yaml").write_text(text)
        assert (
            main(
                [
                    "train",
                    "--recipe",
                    str(tmp_path / "recipe.yaml"),
                    "--out",
                    str(run),
                    "--stop-after",
                    "1",
                ]
            )
            == 0
        )
        assert not (run / "metrics.json").exists()
        assert main(["reproduce", "supcon", "--scale", "tiny", "--out", str(cut)]) == 0
        resumed = json.loads((run / "metrics.json").read_text())
        assert resumed["epochs"] == 2
        assert resumed["linear_top1"] == first["linear_top1"]
        assert resumed["knn_top1"] == first["knn_top1"]
        steps = (cut / "report.md").read_text().split("## Steps")[1]
        assert "| simclr-s0 |" in steps and steps.count("(reused)") == 3
        assert f"$ contrastlab train --resume {run}" in (cut / "log.txt").read_text()
    finally:
        SCALES["tiny"]["settings"] = settings


def test_paper_scale_recipes_build() -> None:
    settings = list(SCALES["paper"]["settings"].items())
    for recipe in _CIFAR.values():
        built = load_recipe(recipe, settings)
        assert built.model.backbone == "resnet50"
