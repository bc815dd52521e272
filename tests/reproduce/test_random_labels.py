"""`contrastlab reproduce random-labels`: tiny end to end, resume, and valid paper-scale recipes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from contrastlab.cli import main
from contrastlab.config import load_recipe
from contrastlab.reproduce.papers.random_labels import SCALES

FINDINGS = ["misalignment falls", "eigenvalue mapping", "aligned initialisation"]


def test_tiny_reproduction_reports_and_resumes(
    tmp_path: Path, gallery_numbers: Callable[[Path, str], None]
) -> None:
    out = tmp_path / "random-labels"
    assert main(["reproduce", "random-labels", "--scale", "tiny", "--out", str(out)]) == 0
    gallery_numbers(out, "random-labels")
    record = json.loads((out / "verdict.json").read_text())
    assert [f["name"] for f in record["findings"]] == FINDINGS
    for f in record["findings"]:
        assert f["verdict"] in ("reproduced", "partly", "not reproduced")
        assert f["tests"] and all(isinstance(t["passed"], bool) for t in f["tests"])
        assert f["figures"] and all((out / p).is_file() for p in f["figures"])
    report = (out / "report.md").read_text()
    assert "[V-page]" in report and "[MEM]" in report
    assert "## How the verdicts are decided" in report
    assert "contrastlab analyze covariance" in report
    assert "--set data.probe=randomlabels" in report
    for name in ("misalignment", "eigenvalue_mapping", "early_training"):
        assert f"figures/{name}.png" in report
    first = {f["name"]: f["measured"] for f in record["findings"]}
    # a second run reuses every step and measures the same
    assert main(["reproduce", "random-labels", "--scale", "tiny", "--out", str(out)]) == 0
    again = json.loads((out / "verdict.json").read_text())
    assert {f["name"]: f["measured"] for f in again["findings"]} == first
    rows = [
        line
        for line in (out / "report.md").read_text().split("## Steps")[1].splitlines()
        if line.startswith("| ") and not line.startswith("| step ")
    ]
    # 2 runs x 2 stops, their 4 analyses and 2 controls, 2 seeds x 2 early trainings
    assert len(rows) == 14 and all("(reused)" in row for row in rows)


def test_paper_scale_recipes_build() -> None:
    paper = SCALES["paper"]
    data = {"data.source": "/data/train.tar.gz", "data.eval_source": "/data/test.tar.gz"}
    for key in ("settings", "downstream"):
        settings = {**paper[key], **data, "data.probe": "randomlabels"}
        built = load_recipe(paper["recipe"], list(settings.items()))
        assert built.model.backbone == "resnet18" and built.optim.name == "sgd"
        assert built.data.probe == "randomlabels"
        assert built.train.epochs >= max(paper["stops"]) >= paper["downstream_epochs"]
