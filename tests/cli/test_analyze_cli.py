"""`contrastlab analyze KIND`: JSON and figures in the run directory, clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from contrastlab.analysis.suppression import SHAPE_KINDS
from contrastlab.cli import main


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trained")


@pytest.fixture
def run(trained_runs: Path, tmp_path: Path, tiny_args: list[str]) -> Path:
    """A tiny one-epoch run: trained once per module, then copied for each test."""
    trained = trained_runs / "run"
    if not trained.exists():
        assert main(["train", "--out", str(trained), "--epochs", "1", *tiny_args]) == 0
    return Path(shutil.copytree(trained, tmp_path / "run"))


def test_suppression_reads_out_every_shapes_factor(run: Path) -> None:
    assert main(["analyze", "suppression", str(run)]) == 0
    result = json.loads((run / "analysis" / "suppression.json").read_text())
    assert set(result["factors"]) == {"trained", "random init"}
    assert list(result["factors"]["trained"]) == list(SHAPE_KINDS)
    assert (run / "figures" / "suppression.png").stat().st_size > 10_000
    # The class read-out is the evaluation's linear probe: same features, probe and seed.
    metrics = json.loads((run / "metrics.json").read_text())
    shape = result["factors"]["trained"]["shape"]
    assert shape["metric"] == "top1" and shape["score"] == pytest.approx(metrics["linear_top1"])
    random_shape = result["factors"]["random init"]["shape"]["score"]
    assert random_shape == pytest.approx(metrics["random_linear_top1"])


def test_suppression_of_chosen_factors_into_a_folder(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["analyze", "suppression", str(run), "--factors", "size,x", "--no-baseline"]
    assert main([*args, "--out", str(out)]) == 0
    result = json.loads((out / "suppression.json").read_text())
    assert list(result["factors"]) == ["trained"]
    assert list(result["factors"]["trained"]) == ["size", "x"]
    assert (out / "suppression.png").is_file()


def test_speed_writes_both_learning_curves(run: Path) -> None:
    args = ["analyze", "speed", str(run), "--set", "eval.finetune_epochs=2", "--fraction", "0.5"]
    assert main([*args, "--set", "train.progress=false"]) == 0
    result = json.loads((run / "analysis" / "speed.json").read_text())
    for label in ("pretrained", "random init"):
        curve = result["curves"][label]
        assert [row["epoch"] for row in curve] == [0, 1, 2]
    assert result["fraction"] == 0.5 and result["finetune"]["epochs"] == 2
    assert result["target_top1"] == result["curves"]["random init"][-1]["top1"]
    assert (run / "figures" / "speed.png").stat().st_size > 10_000


def test_covariance_scores_the_stem_of_both_encoders(run: Path) -> None:
    assert main(["analyze", "covariance", str(run)]) == 0
    result = json.loads((run / "analysis" / "covariance.json").read_text())
    assert result["layer"] == "backbone.conv1" and result["kernel_size"] == 3
    assert set(result["misalignment"]) == {"trained", "random init"}
    assert all(0.0 <= v <= 1.0 for v in result["misalignment"].values())
    mapping = result["eigenvalue_mapping"]["trained"]
    assert len(mapping["lambda"]) == len(mapping["sigma"]) == 3 * 3 * 3
    assert (run / "figures" / "covariance.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["analyze", "wobble", "RUN"],
            "unknown analysis 'wobble'; valid: suppression, speed, covariance",
        ),
        (["analyze", "speed", "RUN", "--fraction", "2"], "--fraction must be in (0, 1]"),
        (["analyze", "suppression", "RUN", "--factors", "hue"], "unknown factor hue"),
        (["analyze", "suppression", "CKPT"], "give --out DIR"),
    ],
)
def test_bad_input_exits_2(
    run: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    target = {"RUN": str(run), "CKPT": str(run / "checkpoints" / "last.pt")}
    args = [target.get(a, a) for a in args]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
