"""`contrastlab reproduce iic`: the tiny scale end to end (with and without MNIST under --datasets),
every step reused on a second run, and the paper scale's settings building valid recipes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from contrastlab.cli import main
from contrastlab.config import load_recipe
from contrastlab.reproduce.papers.iic import DIGITS, MNIST, SCALES, _gap_tests

VERDICTS = {"reproduced", "partly", "not reproduced", "skipped"}
FINDINGS = ["over-clustering, digits", "over-clustering, MNIST", "IIC vs pixel k-means"]


def _reproduce(out: Path, datasets: Path) -> dict:
    argv = ["reproduce", "iic", "--scale", "tiny", "--out", str(out), "--datasets", str(datasets)]
    assert main(argv) == 0
    return json.loads((out / "verdict.json").read_text())


def _steps(report: str) -> list[str]:
    """The rows of the report's steps table."""
    table = report.split("## Steps")[1]
    return [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]


def test_tiny_end_to_end_with_and_without_mnist_reusing_every_step(
    tmp_path: Path, gallery_numbers: Callable[[Path, str], None]
) -> None:
    out, empty = tmp_path / "out", tmp_path / "no-datasets"
    empty.mkdir()
    verdict = _reproduce(out, empty)
    gallery_numbers(out, "iic")
    assert [f["name"] for f in verdict["findings"]] == FINDINGS
    assert all(f["verdict"] in VERDICTS for f in verdict["findings"])
    by_name = {f["name"]: f for f in verdict["findings"]}
    assert by_name["over-clustering, MNIST"]["verdict"] == "skipped"
    assert "mnist-test" in by_name["over-clustering, MNIST"]["reason"]
    assert by_name["over-clustering, digits"]["verdict"] != "skipped"
    assert len(by_name["over-clustering, digits"]["tests"]) == 1  # one seed: no noise estimate
    assert "k-means" in by_name["IIC vs pixel k-means"]["tests"][0]["text"]
    report = (out / "report.md").read_text()
    for name in FINDINGS:
        assert name in report
    assert (out / "figures" / "hungarian_accuracy.png").is_file()
    first = _steps(report)
    assert len(first) == 3  # the digits runs with and without head A, and pixel k-means
    assert not any("(reused)" in row for row in first)

    # MNIST under --datasets, when present, adds its steps; the digits steps are reused
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
    datasets = shared if (shared / "mnist-test").is_dir() else empty
    verdict = _reproduce(out, datasets)
    by_name = {f["name"]: f for f in verdict["findings"]}
    second = _steps((out / "report.md").read_text())
    assert all("(reused)" in row for row in second[:3])
    if datasets == shared:
        assert len(second) == 6 and not any("(reused)" in row for row in second[3:])
        assert by_name["over-clustering, MNIST"]["verdict"] in VERDICTS - {"skipped"}
        assert "MNIST" in by_name["IIC vs pixel k-means"]["measured"]
        assert len(by_name["IIC vs pixel k-means"]["tests"]) == 2

    _reproduce(out, datasets)
    again = _steps((out / "report.md").read_text())
    assert len(again) == len(second) and all("(reused)" in row for row in again)


@pytest.mark.parametrize("overclusters", [50, 0])
def test_paper_scale_settings_make_valid_recipes(overclusters: int) -> None:
    paper = SCALES["paper"]
    digits = load_recipe(
        DIGITS, [*paper["digits"].items(), ("method.iic.overclusters", overclusters)]
    )
    assert digits.method.iic.overclusters == overclusters
    mnist_data = {"data.source": "/d/mnist-test", "data.eval_source": "/d/mnist-test"}
    settings = {**paper["mnist"], **mnist_data, "method.iic.overclusters": overclusters}
    mnist = load_recipe(paper["mnist_recipe"], list(settings.items()))
    assert paper["mnist_recipe"] == MNIST and mnist.train.epochs == 3200
    assert mnist.method.iic.overclusters == overclusters


def test_gap_tests_need_the_gap_to_exceed_its_standard_error() -> None:
    clear = _gap_tests("x", [0.80, 0.82, 0.81], [0.70, 0.71, 0.72])
    assert [t.passed for t in clear] == [True, True]
    noisy = _gap_tests("x", [0.90, 0.60, 0.80], [0.70, 0.75, 0.72])
    assert [t.passed for t in noisy] == [True, False]
    assert len(_gap_tests("x", [0.8], [0.7])) == 1  # one seed per arm: no noise estimate
