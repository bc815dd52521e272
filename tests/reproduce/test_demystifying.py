"""`contrastlab reproduce demystifying`: the tiny scale end to end, resumption, paper recipes."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from contrastlab.cli import main
from contrastlab.config import load_recipe
from contrastlab.reproduce.papers import demystifying
from contrastlab.reproduce.papers.demystifying import steps as demystifying_steps

FINDINGS = {"occlusion vs viewpoint and instance", "illumination", "object-centric vs scenes"}
VERDICTS = {"reproduced", "partly", "not reproduced", "skipped"}


def test_tiny_reproduction_reports_every_finding_and_reuses_its_steps(
    tmp_path: Path, gallery_numbers: Callable[[Path, str], None]
) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    out = tmp_path / "demystifying"
    argv = ["reproduce", "demystifying", "--scale", "tiny", "--out", str(out)]
    assert main(argv) == 0
    gallery_numbers(out, "demystifying")
    record = json.loads((out / "verdict.json").read_text())
    assert record["paper"] == "demystifying" and record["scale"] == "tiny"
    assert {f["name"] for f in record["findings"]} == FINDINGS
    assert all(f["verdict"] in VERDICTS and f["verdict"] != "skipped" for f in record["findings"])
    report = (out / "report.md").read_text()
    for transform in demystifying_steps.TRANSFORMS:
        assert transform in report
    for figure in ("invariance.png", "objects.png"):
        assert (out / "figures" / figure).is_file()
    # the instance sets were analysed as groups of the held-out images
    instance = json.loads((out / "steps" / "simclr-s0-instance.json").read_text())
    assert set(instance["scores"]["trained"]) == {"instance"}
    assert (out / "data" / "instance_sets.npz").is_file()

    assert main(argv) == 0
    steps = (out / "report.md").read_text().split("## Steps", 1)[1]
    rows = [line for line in steps.splitlines() if line.startswith("| ") and "---" not in line]
    rows = rows[1:]  # the header
    assert len(rows) == 11  # 4 trainings, 6 analyses, the instance sets' file
    assert all("(reused)" in row for row in rows)


@pytest.mark.parametrize("scale", ["small", "paper"])
def test_crops_train_for_as_many_steps_as_the_scenes(scale: str) -> None:
    settings = demystifying.SCALES[scale]
    _, scenes = demystifying_steps.scene_settings(settings, crops=False)
    _, crops = demystifying_steps.scene_settings(settings, crops=True)
    assert scenes["data.probe_options"]["crops"] is False
    assert crops["data.probe_options"]["crops"] is True
    k = crops["data.probe_options"]["k"]  # k crops per scene: 1/k of the epochs
    assert crops["train.epochs"] * k == scenes["train.epochs"]


CIFAR = {"data.source": "train.tar.gz", "data.eval_source": "test.tar.gz", "data.options": {}}


@pytest.mark.parametrize("scale", ["small", "paper"])
def test_scale_settings_make_valid_recipes(scale: str) -> None:
    settings = demystifying.SCALES[scale]
    backbones = set()
    for model in ("simclr", "ce"):
        name, values = demystifying_steps.contrast_settings(settings, model, CIFAR)
        recipe = load_recipe(name, [*values.items(), ("train.seed", 0)])
        backbones.add((recipe.model.backbone, recipe.model.width))
    assert len(backbones) == 1  # the same backbone for both
    for crops in (False, True):
        name, values = demystifying_steps.scene_settings(settings, crops, CIFAR)
        recipe = load_recipe(name, [*values.items(), ("train.seed", 0)])
        assert recipe.data.probe == "multiobject"
    assert recipe.data.probe_options["objects"] == "source"  # the data's own images
