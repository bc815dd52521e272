"""`contrastlab reproduce intriguing`: the tiny scale end to end, a rerun that reuses every step,
and paper-scale settings that make valid recipes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from contrastlab.cli import main
from contrastlab.config import load_recipe
from contrastlab.reproduce.paper import Context
from contrastlab.reproduce.papers import intriguing
from contrastlab.reproduce.papers.intriguing import scales as intriguing_scales
from contrastlab.reproduce.workspace import Workspace

FINDINGS = ["RandBit", "generalized losses", "DigitOverlay", "multi-object"]
VERDICTS = {"reproduced", "partly", "not reproduced", "skipped"}


def test_tiny_end_to_end_and_rerun_reuses_every_step(
    tmp_path: Path, gallery_numbers: Callable[[Path, str], None]
) -> None:
    argv = ["reproduce", "intriguing", "--scale", "tiny", "--out", str(tmp_path)]
    assert main(argv) == 0
    gallery_numbers(tmp_path, "intriguing")
    record = json.loads((tmp_path / "verdict.json").read_text())
    assert record["paper"] == "intriguing" and record["scale"] == "tiny"
    assert [f["name"] for f in record["findings"]] == FINDINGS
    for found in record["findings"]:
        assert found["verdict"] in VERDICTS and found["verdict"] != "skipped"
        assert found["tests"] and found["figures"]
        for figure in found["figures"]:
            assert (tmp_path / figure).is_file()
    assert record["verdict"] in VERDICTS
    report = (tmp_path / "report.md").read_text()
    for name in FINDINGS:
        assert f"| {name} |" in report
    assert "[V-log]" in report and "[MEM]" in report and "analyze suppression" in report
    first = (tmp_path / "log.txt").read_text()

    assert main(argv) == 0  # every training, analysis and read-out is read back
    assert (tmp_path / "log.txt").read_text() == first  # no command ran again
    steps = (tmp_path / "report.md").read_text().split("## Steps", 1)[1]
    rows = [line for line in steps.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) > 1 and all("(reused)" in row for row in rows[1:])
    again = json.loads((tmp_path / "verdict.json").read_text())
    assert again["findings"] == record["findings"]


def paper_runs() -> list[tuple[str, dict[str, object]]]:
    """(recipe, settings) of one run of each paper-scale experiment, with stand-in data paths."""
    scale = intriguing_scales.SCALES["paper"]
    fake = {key: f"/data/{rel}" for key, rel in intriguing_scales.DATASET_FILES.items()}

    def real(settings: dict[str, object]) -> dict[str, object]:
        return {k: fake.get(v, v) if isinstance(v, str) else v for k, v in settings.items()}

    out = []
    for name in ("randbit", "losses", "overlay", "multiobject"):
        entry = scale[name]
        settings = real({**scale["settings"], **entry["settings"]})
        out.append((entry["recipe"], settings))
    randbit = {"data.probe": "randbit", "data.probe_options": {"bits": 20}}
    out.append((scale["randbit"]["recipe"], {**out[0][1], **randbit}))
    for loss in scale["losses"]["losses"]:
        extra = intriguing_scales.loss_settings(loss, 0.5, scale["losses"]["dim"])
        out.append((scale["losses"]["recipe"], {**out[1][1], **extra}))
    pool = {"data.probe": "digits", "data.probe_options": {"pool": 1000, "idx": "/data/mnist"}}
    out.append((scale["overlay"]["recipe"], {**out[2][1], **pool}))
    multi = scale["multiobject"]
    options = {"k": 2, "object_size": multi["object_size"], "size_ratio": max(multi["ratios"])}
    objects = {"data.probe": "multiobject", "data.probe_options": options}
    out.append((multi["recipe"], {**out[3][1], **objects}))
    return out


@pytest.mark.parametrize(("recipe", "settings"), paper_runs())
def test_paper_scale_settings_make_valid_recipes(recipe: str, settings: dict[str, object]) -> None:
    load_recipe(recipe, list(settings.items()))


def test_paper_scale_without_the_datasets_folder_skips_every_finding(tmp_path: Path) -> None:
    ctx = Context(Workspace(tmp_path), "paper", intriguing_scales.SCALES["paper"], None)
    findings = intriguing.run(ctx)
    assert [f.name for f in findings] == FINDINGS
    assert all(f.verdict == "skipped" and f.reason for f in findings)
    assert not (tmp_path / "runs").exists()


def test_logsumexp_runs_at_nt_xent_units() -> None:
    """lambda = tau / d and scale d / tau: scale x lambda = 1 on the log-sum-exp term."""
    settings = intriguing_scales.loss_settings("logsumexp", 0.2, 64)
    assert settings["method.simclr.weight"] * settings["method.simclr.scale"] == pytest.approx(1)
    assert intriguing_scales.loss_settings("nt_xent", 0.2, 64) == {"eval.random_baseline": True}
