"""The reproduction framework: verdict rule, settings flags, resumable steps, report, gallery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contrastlab.cli import main
from contrastlab.config import parse_override
from contrastlab.core.errors import ConfigError
from contrastlab.reproduce import PAPERS, load_paper
from contrastlab.reproduce.publish import publish
from contrastlab.reproduce.runner import reproduce
from contrastlab.reproduce.verdict import Claim, Test, finding, paper_verdict, skipped
from contrastlab.reproduce.workspace import Workspace, set_flags

CLAIM = Claim("a claim", "[V-log]", "Someone et al. 2020, Table 1")


def test_verdict_follows_the_tests() -> None:
    yes, no = Test("a > b", True), Test("c > d", False)
    assert finding("f", CLAIM, "m", [yes, yes]).verdict == "reproduced"
    assert finding("f", CLAIM, "m", [yes, no]).verdict == "partly"
    assert finding("f", CLAIM, "m", [no, no]).verdict == "not reproduced"
    with pytest.raises(ValueError):
        finding("f", CLAIM, "m", [])


def test_paper_verdict() -> None:
    good = finding("a", CLAIM, "m", [Test("t", True)])
    bad = finding("b", CLAIM, "m", [Test("t", False)])
    half = finding("c", CLAIM, "m", [Test("t", True), Test("u", False)])
    gone = skipped("d", CLAIM, "no data")
    assert paper_verdict([good, gone]) == "reproduced"
    assert paper_verdict([bad, gone]) == "not reproduced"
    assert paper_verdict([good, bad]) == "partly"
    assert paper_verdict([half]) == "partly"
    assert paper_verdict([gone]) == "skipped"


@pytest.mark.parametrize(
    "value", [2, 0.05, "shapes", True, None, [1, 10, 100], {"bits": 5, "seed": 3}, ["knn"]]
)
def test_set_flags_round_trip(value: object) -> None:
    flag, text = set_flags({"a.b": value})
    assert flag == "--set"
    assert parse_override(text) == ("a.b", value)


def test_cached_step_is_computed_once(tmp_path: Path) -> None:
    calls = []

    def compute() -> dict[str, object]:
        calls.append(1)
        return {"x": 1.5}

    assert Workspace(tmp_path).cached("s", compute)["x"] == 1.5
    again = Workspace(tmp_path)
    assert again.cached("s", compute)["x"] == 1.5
    assert len(calls) == 1 and again.steps[0].reused


def test_list_names_every_paper(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    assert len(PAPERS) == 8
    for name in PAPERS:
        assert out.count(f"{name} ") >= 1
        assert load_paper(name).name == name


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "simclr"]) == 2
    assert "unknown paper 'simclr'; valid: intriguing" in capsys.readouterr().err
    assert main(["reproduce"]) == 2
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "file.txt").write_text("mine")
    assert main(["reproduce", "supcon", "--scale", "tiny", "--out", str(tmp_path / "other")]) == 2
    assert "is not empty and is not a reproduction" in capsys.readouterr().err
    assert main(["reproduce", "supcon", "--datasets", str(tmp_path / "absent")]) == 2


def test_publish_writes_report_figures_and_index(tmp_path: Path) -> None:
    result = reproduce("supcon", scale="tiny", out=tmp_path / "work")
    target = publish(result, tmp_path / "gallery", {"runs/x/metrics.json/final_loss": 1.5})
    assert (target / "report.md").read_text() == result.report.read_text()
    assert (target / "figures" / "linear_top1.png").stat().st_size > 0
    index = (tmp_path / "gallery" / "README.md").read_text()
    assert "[supcon/report.md](supcon/report.md)" in index
    assert "| clae | small | not generated | — | — | — |" in index
    tiny = json.loads((target / "numbers.json").read_text())
    assert tiny == {
        "paper": "supcon",
        "scale": "tiny",
        "numbers": {"runs/x/metrics.json/final_loss": 1.5},
    }
    # a reproduction directory holds one paper at one scale
    with pytest.raises(Exception, match="holds the reproduction of supcon at scale tiny"):
        reproduce("clae", scale="tiny", out=tmp_path / "work")


def test_a_step_is_not_reused_for_other_settings(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.cached("s", lambda: {"x": 1}, command="contrastlab a --set k=1")
    with pytest.raises(Exception, match=r"step s .* was made by another command"):
        Workspace(tmp_path).cached("s", lambda: {"x": 2}, command="contrastlab a --set k=2")
    again = Workspace(tmp_path).cached("s", lambda: {"x": 3}, command="contrastlab a --set k=1")
    assert again["x"] == 1


def test_the_datasets_folder_is_a_setting_with_no_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contrastlab.reproduce.command import datasets_setting

    monkeypatch.delenv("CONTRASTLAB_DATASETS", raising=False)
    assert datasets_setting(None) is None  # an installed package has no data folder to assume
    monkeypatch.setenv("CONTRASTLAB_DATASETS", str(tmp_path))
    assert datasets_setting(None) == tmp_path
    assert datasets_setting(str(tmp_path)) == tmp_path
    monkeypatch.setenv("CONTRASTLAB_DATASETS", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match=r"\$CONTRASTLAB_DATASETS .*absent is not a directory"):
        datasets_setting(None)
