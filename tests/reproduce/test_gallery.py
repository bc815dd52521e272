"""The gallery (docs/reproductions) holds every paper's small-scale report and, beside it, the
numbers its tiny scale computed with the same code (numbers.json). Each paper's tiny test reruns
that scale and compares (see conftest.py): a change that moves a number fails until the gallery
is regenerated; a refactor that moves none keeps it valid. Here: the gallery is whole, and the
check does fail when a method's numbers move."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import contrastlab.methods.supcon as supcon_method
from contrastlab.reproduce import PAPERS
from contrastlab.reproduce.numbers import NUMBERS_FILE, differences, numbers
from contrastlab.reproduce.runner import reproduce

GALLERY = Path(__file__).resolve().parents[2] / "docs" / "reproductions"


@pytest.mark.parametrize("name", PAPERS)
def test_gallery_report_is_whole(name: str) -> None:
    record = json.loads((GALLERY / name / "verdict.json").read_text())
    assert record["paper"] == name and record["scale"] == "small"
    report = (GALLERY / name / "report.md").read_text()
    assert "**Verdict: " in report and record["verdict"] in report
    for figure in re.findall(r"\]\((figures/[^)]+)\)", report):
        assert (GALLERY / name / figure).is_file(), figure
    tiny = json.loads((GALLERY / name / NUMBERS_FILE).read_text())
    assert tiny["paper"] == name and tiny["scale"] == "tiny"
    assert any(key.endswith("/final_loss") for key in tiny["numbers"])  # a training is in it


def test_index_links_every_report() -> None:
    index = (GALLERY / "README.md").read_text()
    for name in PAPERS:
        assert f"({name}/report.md)" in index


def test_a_method_whose_numbers_move_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SupCon's loss scaled by 1.001 (a change no file hash of the losses would see): the tiny
    scale's numbers leave the gallery's, first of all the final losses of the SupCon runs."""
    loss = supcon_method.supcon
    monkeypatch.setattr(supcon_method, "supcon", lambda *a, **k: 1.001 * loss(*a, **k))
    monkeypatch.delenv("CONTRASTLAB_DATASETS", raising=False)
    root = reproduce("supcon", scale="tiny", out=tmp_path / "supcon").root
    recorded = json.loads((GALLERY / "supcon" / NUMBERS_FILE).read_text())["numbers"]
    moved = differences(recorded, numbers(root))
    assert any(line.startswith("runs/supcon-out-s0/metrics.json/final_loss") for line in moved)
    assert not any(line.startswith("runs/ce-s0/") for line in moved)  # other methods stay put


def test_differences_by_hand() -> None:
    assert differences({"a": 1.0, "n": float("nan")}, {"a": 1.0 + 1e-9, "n": float("nan")}) == []
    assert differences({"a": 1.0, "b": 2.0}, {"a": 1.01, "c": 3.0}) == [
        "b: recorded, now missing",
        "c: new, not recorded",
        "a: recorded 1.0, now 1.01",
    ]
