"""`contrastlab analyze KIND`: JSON and figures in the run directory, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contrastlab.analysis.suppression import SHAPE_KINDS
from contrastlab.cli import main


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


def test_cka_of_a_run_with_itself_has_a_unit_diagonal(run: Path) -> None:
    """--other the same run: every layer matches itself (CKA 1); against random init the
    default comparison is below 1 somewhere."""
    assert main(["analyze", "cka", str(run), "--other", str(run)]) == 0
    same = json.loads((run / "analysis" / "cka.json").read_text())
    assert same["layers"][0] == "backbone.relu" and same["layers"][-1] == "backbone.avgpool"
    assert same["diagonal"] == pytest.approx([1.0] * 6, abs=1e-6)
    assert main(["analyze", "cka", str(run), "--layers", "backbone.layer1,backbone.layer4"]) == 0
    twin = json.loads((run / "analysis" / "cka.json").read_text())
    assert twin["other"] == "random init" and len(twin["matrix"]) == 2
    assert min(twin["diagonal"]) < 0.99
    assert (run / "figures" / "cka.png").stat().st_size > 10_000


def test_invariance_scores_each_transform_against_chance(run: Path) -> None:
    args = ["analyze", "invariance", str(run), "--transforms", "occlusion,rotation"]
    assert main([*args, "--top-k", "5"]) == 0
    result = json.loads((run / "analysis" / "invariance.json").read_text())
    assert set(result["scores"]["trained"]) == {"occlusion", "rotation"}
    assert all(0 <= v <= 100 for s in result["scores"].values() for v in s.values())
    assert 0 < result["chance"]["rotation"] < 100 and result["top_k"] == 5
    for curve in result["similarity_vs_strength"].values():
        assert curve["trained"][0] == pytest.approx(1.0, abs=1e-5)  # strength 0: the same image
    assert (run / "figures" / "invariance.png").stat().st_size > 10_000


QUICK = ["--set", "eval.finetune_epochs=2", "--set", "train.progress=false"]


def test_interpolation_between_fine_tuned_pairs(run: Path) -> None:
    assert main(["analyze", "interpolation", str(run), *QUICK]) == 0
    result = json.loads((run / "analysis" / "interpolation.json").read_text())
    assert set(result["curves"]) == {"P-T / P-T", "RI-T / RI-T"}
    for label, curve in result["curves"].items():
        assert [row["alpha"] for row in curve] == pytest.approx([i / 10 for i in range(11)])
        assert all(row["error"] == pytest.approx(1 - row["accuracy"]) for row in curve)
        assert result["barriers"][label]["loss"] >= 0 and result["barriers"][label]["error"] >= 0
    assert (run / "figures" / "interpolation.png").stat().st_size > 10_000


def test_criticality_of_each_stage(run: Path) -> None:
    assert main(["analyze", "criticality", str(run), *QUICK]) == 0
    result = json.loads((run / "analysis" / "criticality.json").read_text())
    for label in ("pretrained", "random init"):
        modules = result["modules"][label]
        assert list(modules) == ["conv1", "layer1", "layer2", "layer3", "layer4", "head"]
        for row in modules.values():
            assert row["rewind_alpha"] in result["alphas"]
            assert row["criticality"] is None or row["criticality"] >= 0
    for name in ("criticality_pretrained.png", "criticality_random.png"):
        assert (run / "figures" / name).stat().st_size > 10_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["analyze", "wobble", "RUN"],
            "unknown analysis 'wobble'; valid: suppression, speed, covariance, cka, invariance, ",
        ),
        (["analyze", "speed", "RUN", "--fraction", "2"], "--fraction must be in (0, 1]"),
        (["analyze", "invariance", "RUN", "--transforms", "blur"], "unknown transform blur"),
        (["analyze", "cka", "RUN", "--layers", "backbone.nope"], "backbone.nope"),
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


def test_suppression_reads_out_the_randbit_integer(tmp_path: Path, tiny_args: list[str]) -> None:
    """On shapes with 3 random bits, the bits' integer is a class factor beside the shape."""
    run = tmp_path / "bits"
    probe = ["--set", "data.probe=randbit", "--set", "data.probe_options={bits: 3}"]
    assert main(["train", "--out", str(run), "--epochs", "1", *tiny_args, *probe]) == 0
    assert main(["analyze", "suppression", str(run), "--factors", "shape,randbit"]) == 0
    result = json.loads((run / "analysis" / "suppression.json").read_text())
    bits = result["factors"]["trained"]["randbit"]
    assert bits["kind"] == "class" and bits["metric"] == "top1" and 0 <= bits["score"] <= 1


def test_invariance_to_instance_groups_from_an_npz(
    tmp_path: Path, tiny_model_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """An .npz with a 'groups' array: the images of one object form a set."""
    import numpy as np

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(20), 6)  # 20 objects, 6 views each
    base = rng.integers(0, 255, (20, 16, 16, 3))
    images = np.clip(base[groups] + rng.integers(-20, 20, (120, 16, 16, 3)), 0, 255)
    path = tmp_path / "objects.npz"
    np.savez(path, images=images.astype(np.uint8), labels=groups % 2, groups=groups)
    run = tmp_path / "run"
    args = ["train", "--out", str(run), "--data", str(path), "--epochs", "1", *tiny_model_args]
    assert main(args) == 0
    capsys.readouterr()
    assert (
        main(["analyze", "invariance", str(run), "--transforms", "instance", "--top-k", "4"]) == 0
    )
    result = json.loads((run / "analysis" / "invariance.json").read_text())
    assert 0 <= result["scores"]["trained"]["instance"] <= 100
    assert 0 < result["chance"]["instance"] < 100
    shapes_run = ["analyze", "invariance", str(run), "--data", "shapes", "--transforms", "instance"]
    assert main(shapes_run) == 2
    assert "needs images grouped by object" in capsys.readouterr().err
