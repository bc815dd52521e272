"""`contrastlab train` and `contrastlab eval` end to end on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from contrastlab.cli import main
from contrastlab.config import DEFAULT_RECIPE, build_recipe
from contrastlab.core.hardware import native_half
from contrastlab.train.checkpoint import load_checkpoint
from contrastlab.train.logs import read_metrics_csv


def test_train_writes_a_complete_run_directory(
    tmp_path: Path, tiny_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "2", *tiny_args]) == 0
    printed = capsys.readouterr().out
    assert "| kNN top-1 |" in printed and "| linear probe top-1 |" in printed
    for name in (
        "config.yaml",
        "metrics.csv",
        "metrics.json",
        "checkpoints/last.pt",
        "report.md",
        "figures/loss.png",
    ):
        assert (out / name).is_file(), name
    assert any((out / "tensorboard").iterdir())
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("knn_top1", "linear_top1", "random_knn_top1", "random_linear_top1"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["epochs"] == 2 and metrics["train_seconds"] > 0
    assert metrics["n_train"] == 96 and metrics["n_test"] == 48
    rows = read_metrics_csv(out / "metrics.csv")
    assert [row["epoch"] for row in rows] == [1, 2] and rows[-1]["step"] == 2 * (96 // 32)
    recipe = build_recipe(yaml.safe_load((out / "config.yaml").read_text()))
    assert (
        recipe.name == DEFAULT_RECIPE and recipe.train.epochs == 2 and recipe.data.image_size == 16
    )
    report = (out / "report.md").read_text()
    assert "![loss curve](figures/loss.png)" in report and f"{metrics['knn_top1']:.3f}" in report


def test_eval_reproduces_the_figures_of_train(tmp_path: Path, tiny_args: list[str]) -> None:
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "1", *tiny_args]) == 0
    trained = json.loads((out / "metrics.json").read_text())
    (out / "metrics.json").unlink()  # eval writes it anew
    assert main(["eval", str(out), "--set", "train.progress=false"]) == 0
    again = json.loads((out / "metrics.json").read_text())
    for key in trained["protocols"]["knn"]:
        assert again["protocols"]["knn"][key] == trained["protocols"]["knn"][key], key
    figures = [
        key for key in trained if key.startswith(("knn_", "linear_", "retrieval_", "kmeans_"))
    ]
    assert len(figures) > 10
    for key in figures + ["random_" + key for key in figures]:
        assert again[key] == pytest.approx(trained[key], abs=1e-9), key
    # A checkpoint file works as well as its run directory.
    target = tmp_path / "figures.json"
    assert (
        main(["eval", str(out / "checkpoints" / "last.pt"), "--no-baseline", "--out", str(target)])
        == 0
    )
    direct = json.loads(target.read_text())
    assert (
        direct["knn_top1"] == pytest.approx(trained["knn_top1"]) and "random_knn_top1" not in direct
    )


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_resume_is_exact(tmp_path: Path, tiny_args: list[str], optimizer: str) -> None:
    tiny_args = [*tiny_args, "--set", f"optim.name={optimizer}"]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["train", "--out", str(straight), "--epochs", "2", *tiny_args]) == 0
    assert (
        main(["train", "--out", str(resumed), "--epochs", "2", "--stop-after", "1", *tiny_args])
        == 0
    )
    half = load_checkpoint(resumed / "checkpoints" / "last.pt")
    assert half["epoch"] == 1 and not (resumed / "metrics.json").exists()
    assert main(["train", "--resume", str(resumed)]) == 0
    a = load_checkpoint(straight / "checkpoints" / "last.pt")
    b = load_checkpoint(resumed / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 2 * 3
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert torch.equal(a["generator"], b["generator"])
    for sa, sb in zip(
        a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True
    ):
        assert sa.keys() == sb.keys() and sa  # momentum buffer, or Adam's step and moments
        for key in sa:
            assert torch.equal(torch.as_tensor(sa[key]), torch.as_tensor(sb[key])), key
    assert [r["loss"] for r in a["history"]] == [r["loss"] for r in b["history"]]
    ma = json.loads((straight / "metrics.json").read_text())
    mb = json.loads((resumed / "metrics.json").read_text())
    assert ma["knn_top1"] == mb["knn_top1"] and ma["linear_top1"] == mb["linear_top1"]


def test_seed_changes_the_run(tmp_path: Path, tiny_args: list[str]) -> None:
    for seed in (0, 1):
        assert (
            main(
                [
                    "train",
                    "--out",
                    str(tmp_path / str(seed)),
                    "--epochs",
                    "1",
                    "--seed",
                    str(seed),
                    *tiny_args,
                ]
            )
            == 0
        )
    a = load_checkpoint(tmp_path / "0" / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "1" / "checkpoints" / "last.pt")["model"]
    assert not torch.equal(a["encoder.backbone.conv1.weight"], b["encoder.backbone.conv1.weight"])


def test_recipes_lists_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    assert f"* {DEFAULT_RECIPE}" in out and "simclr_resnet18_cifar10_1000e" in out


@pytest.mark.parametrize("method", ["simclr", "supcon"])
def test_bf16_autocast_trains(
    tmp_path: Path, tiny_args: list[str], method: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`train.precision=bf16` on the CPU: the NT-Xent and SupCon kernels used to fail in the first
    backward (a bf16 softmax met float32 keys); now the run ends with a finite loss, and one that
    is not the fp32 run's (autocast did reach the network). A CPU without native bf16 kernels is
    warned that it emulates them, and only then."""
    losses, warned = [], []
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        args = ["train", method, "--out", str(out), "--epochs", "1", *tiny_args]
        assert main([*args, "--set", f"train.precision={precision}"]) == 0
        losses.append(load_checkpoint(out / "checkpoints" / "last.pt")["history"][-1]["loss"])
        warned.append("no native bf16 kernels" in capsys.readouterr().err)
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[0] != losses[1]
    assert warned == [False, not native_half(torch.bfloat16)]


def test_channels_last_on_the_cpu_is_reproducible(tmp_path: Path, tiny_args: list[str]) -> None:
    """`train.channels_last=true` on the CPU: two identical runs end bit-identical (what exact
    resume needs); the contiguous run sums in another order, so its weights drift apart over the
    steps (by 2e-3 here) while its loss stays close. Width 1/8: at 1/16 one convolution has 4
    input channels, which channels-last computes wrongly on an AVX2 CPU (test_layout_check)."""
    saved = []
    for name, layout in (("a", "true"), ("b", "true"), ("plain", "false")):
        out = tmp_path / name
        args = ["train", "--out", str(out), "--epochs", "1", *tiny_args]
        args += ["--set", "model.width=0.125"]
        assert main([*args, "--set", f"train.channels_last={layout}"]) == 0
        saved.append(load_checkpoint(out / "checkpoints" / "last.pt"))
    a, b, plain = (checkpoint["model"] for checkpoint in saved)
    conv = "encoder.backbone.conv1.weight"
    assert all(torch.equal(a[key], b[key]) for key in a)
    assert not torch.equal(a[conv], plain[conv])
    losses = [checkpoint["history"][-1]["loss"] for checkpoint in saved]
    assert losses[0] == losses[1] and losses[2] == pytest.approx(losses[0], rel=0.02)


def test_channels_last_takes_auto_true_or_false(
    tmp_path: Path, tiny_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--out", str(tmp_path / "r"), *tiny_args, "--set", "train.channels_last=fast"]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "train.channels_last must be one of auto, True, False; got 'fast'" in error
