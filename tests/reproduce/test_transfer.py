"""`contrastlab reproduce transfer`: tiny end to end and resumed, the sweep's helpers by known
answers, and valid paper-scale recipes."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from contrastlab.cli import main
from contrastlab.config import load_recipe
from contrastlab.reproduce.papers.transfer import CIFAR_RECIPE, SCALES
from contrastlab.reproduce.papers.transfer.steps import (
    concordance,
    faster,
    speedup,
    steps_to_loss,
    sweep_summary,
)

FINDINGS = [
    "block shuffle: accuracy gap",
    "block shuffle: optimisation speed",
    "interpolation: one basin",
    "feature and parameter similarity",
    "module criticality",
]


def test_tiny_reproduction_reports_and_resumes(
    tmp_path: Path, gallery_numbers: Callable[[Path, str], None]
) -> None:
    out = tmp_path / "transfer"
    assert main(["reproduce", "transfer", "--scale", "tiny", "--out", str(out)]) == 0
    gallery_numbers(out, "transfer")
    record = json.loads((out / "verdict.json").read_text())
    assert [f["name"] for f in record["findings"]] == FINDINGS
    for f in record["findings"]:
        assert f["verdict"] in ("reproduced", "partly", "not reproduced")
        assert f["tests"] and all(isinstance(t["passed"], bool) for t in f["tests"])
        for figure in f["figures"]:
            assert (out / figure).is_file(), figure
    report = (out / "report.md").read_text()
    assert (
        "[V-page]" in report and "[MEM]" in report and "## How the verdicts are decided" in report
    )
    assert "contrastlab analyze speed" in report and "data.probe=blockshuffle" in report
    for kind in ("interpolation", "criticality"):
        assert f"contrastlab analyze {kind}" in report
    assert (out / "figures" / "blockshuffle_sweep.png").is_file()
    first = {f["name"]: f["measured"] for f in record["findings"]}
    # a second run reuses every step and measures the same
    assert main(["reproduce", "transfer", "--scale", "tiny", "--out", str(out)]) == 0
    again = json.loads((out / "verdict.json").read_text())
    assert {f["name"]: f["measured"] for f in again["findings"]} == first
    steps = (out / "report.md").read_text().split("## Steps")[1]
    rows = [row for row in steps.splitlines() if row.startswith("| ")][1:]  # after the header
    tiny = SCALES["tiny"]
    assert len(rows) == 1 + len(tiny["blocks"]) * len(tiny["seeds"]) + 3
    assert steps.count("(reused)") == len(rows)


def test_steps_to_loss_and_faster() -> None:
    curve = [
        {"epoch": 0, "step": 0, "top1": 0.1},
        {"epoch": 1, "step": 5, "top1": 0.4, "loss": 2.0},
        {"epoch": 2, "step": 10, "top1": 0.6, "loss": 1.2},
        {"epoch": 3, "step": 15, "top1": 0.7, "loss": 0.9},
    ]
    assert steps_to_loss(curve, 1.5) == 10
    assert steps_to_loss(curve, 0.9) == 15
    assert steps_to_loss(curve, 0.5) is None
    assert faster(5, 10) and not faster(10, 5) and not faster(10, 10)
    assert faster(5, None) and not faster(None, 5) and not faster(None, None)
    assert faster(0, 3)
    assert speedup((10, 30)) == 3.0 and speedup((None, 30)) == 0.0
    assert math.isnan(speedup((0, 30))) and math.isnan(speedup((None, None)))


def test_concordance_known_answers() -> None:
    assert concordance([1, 2, 4], [0.1, 0.2, 0.3]) == 1.0
    assert concordance([1, 2, 4], [0.3, 0.2, 0.1]) == 0.0
    # pairs (2>1), (4>1), (4>2): rises, ties (half), falls
    assert concordance([1, 2, 4], [0.1, 0.3, 0.1]) == pytest.approx((1 + 0.5 + 0) / 3)
    assert math.isnan(concordance([3, 3], [0.1, 0.2]))
    with pytest.raises(ValueError):
        concordance([1, 2], [0.1])


def _speed(p_curve: list[float], r_curve: list[float], steps: tuple[int | None, int | None]):
    def rows(top1s: list[float]) -> list[dict[str, float]]:
        return [
            {"step": 10 * i, "top1": t, **({"loss": 2.0 - t} if i else {})}
            for i, t in enumerate(top1s)
        ]

    return {
        "curves": {"pretrained": rows(p_curve), "random init": rows(r_curve)},
        "steps_pretrained": steps[0],
        "steps_random": steps[1],
    }


def test_sweep_summary_per_block() -> None:
    runs = {
        16: [_speed([0.1, 0.8, 0.9], [0.1, 0.3, 0.6], (10, 20))],
        1: [_speed([0.1, 0.2, 0.3], [0.1, 0.3, 0.4], (None, 20))],
    }
    summary = sweep_summary(runs)
    assert summary[16]["gap"] == [pytest.approx(0.3)]
    assert summary[16]["faster_top1"] == [True] and summary[16]["faster_loss"] == [True]
    assert summary[16]["steps_loss"] == [(10, 20)]
    assert summary[1]["gap"] == [pytest.approx(-0.1)]
    assert summary[1]["faster_top1"] == [False] and summary[1]["steps_loss"] == [(None, 20)]


def test_paper_scale_recipe_builds() -> None:
    paper = SCALES["paper"]
    settings = {**paper["pretrain"], "data.options": {}}
    recipe = load_recipe(CIFAR_RECIPE, list(settings.items()))
    assert recipe.data.image_size % min(paper["blocks"]) == 0
    assert all(recipe.data.image_size % b == 0 for b in paper["blocks"])
    finetune = [
        *paper["finetune"].items(),
        ("data.probe", "blockshuffle"),
        ("data.probe_options", {"block": 4, "seed": 1234}),
    ]
    assert load_recipe(CIFAR_RECIPE, finetune).eval.finetune_epochs == 100
