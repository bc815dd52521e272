"""`contrastlab reproduce clae`: tiny end to end; the two arms differ only by the method."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from contrastlab.cli import main
from contrastlab.config import load_recipe
from contrastlab.reproduce.papers.clae import SCALES


def test_tiny_reproduction(tmp_path: Path, gallery_numbers: Callable[[Path, str], None]) -> None:
    out = tmp_path / "clae"
    assert main(["reproduce", "clae", "--scale", "tiny", "--out", str(out)]) == 0
    gallery_numbers(out, "clae")
    record = json.loads((out / "verdict.json").read_text())
    (kinds,) = record["findings"]
    assert kinds["name"] == "kNN gain" and len(kinds["tests"]) == 1
    (gain,) = kinds["tests"]
    knn = {
        arm: [json.loads((out / "runs" / f"{arm}-s{s}" / "metrics.json").read_text())["knn_top1"]
              for s in SCALES["tiny"]["seeds"]]
        for arm in ("simclr", "clae")
    }  # fmt: skip
    inits = [
        json.loads((out / "steps" / f"{arm}-s{s}-init.json").read_text())["random_knn_top1"]
        for arm in ("simclr", "clae")
        for s in SCALES["tiny"]["seeds"]
    ]
    pairs = zip(knn["simclr"] + knn["clae"], inits, strict=True)
    learned = all(v >= max(init, 1 / 6) + 0.02 for v, init in pairs)  # 6 shapes: chance 1/6
    if learned:  # two seeds: the paired interval is the mean gain +- 12.7 x its half-range
        assert gain["effect"] == pytest.approx(sum(knn["clae"]) / 2 - sum(knn["simclr"]) / 2)
    else:  # a seed at or below its random init: too few pairs left to tell
        assert gain["outcome"] == "inconclusive" and gain["health"]
    assert kinds["verdict"] == {"pass": "reproduced", "fail": "not reproduced"}.get(
        gain["outcome"], "inconclusive"
    )
    assert "paired gain" in kinds["measured"] and "random init" in kinds["measured"]
    seeds = SCALES["tiny"]["seeds"]
    for seed in seeds:
        simclr = yaml.safe_load((out / "runs" / f"simclr-s{seed}" / "config.yaml").read_text())
        clae = yaml.safe_load((out / "runs" / f"clae-s{seed}" / "config.yaml").read_text())
        assert simclr["method"].pop("name") == "simclr" and clae["method"].pop("name") == "clae"
        assert simclr == clae  # same recipe, seed and data: only the adversarial term differs
    assert (out / "figures" / "knn_top1.png").stat().st_size > 0


def test_paper_scale_recipe_builds() -> None:
    paper = SCALES["paper"]
    for method in ("clae", "simclr"):
        recipe = load_recipe(paper["recipe"], [("method.name", method)])
        assert recipe.method.name == method and recipe.model.backbone == "resnet18"
