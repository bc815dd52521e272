"""`contrastlab reproduce looc`: the tiny scale end to end, resumption, paper-scale recipes."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from contrastlab.cli import main
from contrastlab.config import load_recipe
from contrastlab.reproduce.papers import looc

FINDINGS = {"rotation probe", "class probe", "LooC++"}
VERDICTS = {"reproduced", "partly", "not reproduced", "skipped"}


def test_tiny_reproduction_reports_every_finding_and_reuses_its_steps(
    tmp_path: Path, gallery_numbers: Callable[[Path, str], None]
) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    out = tmp_path / "looc"
    assert main(["reproduce", "looc", "--scale", "tiny", "--out", str(out)]) == 0
    gallery_numbers(out, "looc")
    record = json.loads((out / "verdict.json").read_text())
    assert record["paper"] == "looc" and record["scale"] == "tiny"
    assert {f["name"] for f in record["findings"]} == FINDINGS
    assert all(f["verdict"] in VERDICTS and f["verdict"] != "skipped" for f in record["findings"])
    assert record["verdict"] in VERDICTS
    report = (out / "report.md").read_text()
    for name in ("MoCo+rot embedding", "LooC z_rotation", "LooC++", "chance + 3 s.e."):
        assert name in report
    for figure in ("rotation_probe.png", "class_probe.png"):
        assert (out / "figures" / figure).is_file()
    trained = json.loads((out / "runs" / "looc-s0" / "metrics.json").read_text())
    assert "random_rotation_top1_z_rotation" in trained  # the random-init twin is probed too

    assert main(["reproduce", "looc", "--scale", "tiny", "--out", str(out)]) == 0
    steps = (out / "report.md").read_text().split("## Steps", 1)[1]
    rows = [line for line in steps.splitlines() if line.startswith("| ") and "---" not in line]
    rows = rows[1:]  # the header
    assert len(rows) == 2 + 5  # two trainings, five extra class probes
    assert all("(reused)" in row for row in rows)


def test_chance_band_is_chance_plus_three_standard_errors() -> None:
    # 540 test images: the probe is scored on 4 x 270 = 1080 rotated images
    band = looc._chance_band(540)
    assert band == pytest.approx(0.25 + 3 * (0.25 * 0.75 / 1080) ** 0.5)


@pytest.mark.parametrize("scale", ["small", "paper"])
@pytest.mark.parametrize("method", ["moco", "looc"])
def test_scale_settings_make_valid_recipes(scale: str, method: str) -> None:
    data = {"data.source": "train.tar.gz", "data.eval_source": "test.tar.gz", "data.options": {}}
    name, settings = looc.twin(looc.SCALES[scale], method, data)
    recipe = load_recipe(name, [*settings.items(), ("train.seed", 0)])
    assert recipe.method.name == method
    assert recipe.augment.rotation_p == 0.75 and recipe.eval.rotation_probe
    assert recipe.model.head_layers == 2  # LooC++ reads the MLP heads' hidden layer
    if scale == "paper":
        assert recipe.data.source == "train.tar.gz"
