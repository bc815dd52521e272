"""Every method trains from `contrastlab train METHOD`, resumes exactly, and reports the same
metrics.json keys as SimCLR (IIC adds its cluster accuracy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from contrastlab.cli import main
from contrastlab.config import METHOD_RECIPES
from contrastlab.core.method_registry import METHODS
from contrastlab.methods import builder
from contrastlab.train.checkpoint import load_checkpoint

COMMON_KEYS = {
    "epochs",
    "train_seconds",
    "final_loss",
    "knn_top1",
    "linear_top1",
    "random_knn_top1",
    "random_linear_top1",
    "n_train",
    "n_test",
}
EXTRA = {
    "moco": ["--set", "method.moco.queue_size=128", "--set", "method.moco.bn_splits=4"],
    "supcon": [],
    "ce": [],
    "iic": ["--set", "method.iic.overclusters=12", "--set", "method.iic.repeats=2"],
    "clae": [],
    "looc": ["--set", "method.moco.queue_size=64"],
    "temporal": [
        "--set",
        "method.moco.queue_size=128",
        "--set",
        "data.options={n_sequences: 8, n_test_sequences: 3, frames: 12}",
    ],
}
DIGITS = ("iic", "looc")  # recipes on the built-in digits (one channel)


def method_args(method: str, tiny_args: list[str], tiny_model_args: list[str]) -> list[str]:
    if method in DIGITS:
        return [method, *tiny_model_args, "--set", "data.limit=256", *EXTRA[method]]
    if method == "temporal":
        return [method, *tiny_model_args, *EXTRA[method]]
    return [method, *tiny_args, *EXTRA[method]]


def test_every_registered_method_has_a_builder_and_recipes() -> None:
    """Each registry entry names a builder that exists and recipes that are bundled and train
    that very method; `contrastlab train NAME` offers exactly the registered names."""
    from contrastlab.cli import build_parser
    from contrastlab.config import load_recipe

    assert set(METHOD_RECIPES) == set(METHODS)
    for name, entry in METHODS.items():
        assert callable(builder(name))
        for recipe in (entry.cpu_recipe, entry.gpu_recipe):
            assert load_recipe(recipe).method.name == name, recipe
    train = build_parser()._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    method = next(a for a in train._actions if a.dest == "method")
    assert list(method.choices) == list(METHODS)


@pytest.mark.parametrize("method", ["moco", "supcon", "ce", "iic", "clae", "looc", "temporal"])
def test_method_trains_and_resumes_exactly(
    tmp_path: Path, tiny_args: list[str], tiny_model_args: list[str], method: str
) -> None:
    args = method_args(method, tiny_args, tiny_model_args)
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["train", *args, "--out", str(straight), "--epochs", "2"]) == 0
    assert main(["train", *args, "--out", str(resumed), "--epochs", "2", "--stop-after", "1"]) == 0
    assert main(["train", "--resume", str(resumed)]) == 0
    a = load_checkpoint(straight / "checkpoints" / "last.pt")
    b = load_checkpoint(resumed / "checkpoints" / "last.pt")
    assert a["method"] == b["method"] == method and a["step"] == b["step"] > 0
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:  # parameters and buffers: MoCo's queue, IIC's step and sub-head losses
        assert torch.equal(a["model"][key], b["model"][key]), key
    ma = json.loads((straight / "metrics.json").read_text())
    mb = json.loads((resumed / "metrics.json").read_text())
    expected = set(COMMON_KEYS)
    if method == "iic":
        expected |= {"cluster_top1", "cluster_top1_mean", "cluster_top1_std", "random_cluster_top1"}
    assert expected <= set(ma) and set(ma) == set(mb)
    for key in ("knn_top1", "linear_top1", "final_loss"):
        assert ma[key] == mb[key], key
    if method == "iic":
        assert ma["cluster_top1"] == mb["cluster_top1"] and 0.0 <= ma["cluster_top1"] <= 1.0
        # `contrastlab eval` of the run gives the same clustering figures as training did.
        assert main(["eval", str(straight), "--no-baseline"]) == 0
        again = json.loads((straight / "metrics.json").read_text())
        for key in ("cluster_top1", "cluster_top1_mean", "cluster_subhead"):
            assert again[key] == ma[key], key
    if method == "moco":
        assert int(a["model"]["queue_ptr"]) == (a["step"] * 2 * 32) % 128  # symmetric recipe
    if method == "clae":
        assert any(key.startswith("adversary.aux.") for key in a["model"])
    if method == "looc":  # the rotation probe on every representation, random init included
        names = ("", "_looc++", "_z_all", "_z_color", "_z_rotation")
        assert {f"{p}rotation_top1{n}" for p in ("", "random_") for n in names} <= set(ma)
        assert all(ma[f"rotation_top1{n}"] == mb[f"rotation_top1{n}"] for n in names)
        assert main(["eval", str(straight), "--no-baseline", "--representation", "looc++"]) == 0
        again = json.loads((straight / "metrics.json").read_text())
        assert again["representation"] == "looc++"
        assert "random_knn_top1" not in again  # no stale figure of the backbone's twin
        assert again["feature_dim"] == 3 * ma["feature_dim"]  # each head's hidden layer
        assert main(["eval", str(straight), "--representation", "z_texture"]) == 2


def test_method_and_recipe_must_agree(
    tmp_path: Path, tiny_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "moco", "--recipe", "supcon_resnet18w0.125_shapes_16e", *tiny_args])
    assert code == 2
    assert "method.name is 'supcon'" in capsys.readouterr().err


def test_supervised_method_needs_labels_in_range(
    tmp_path: Path, tiny_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "ce", *tiny_args, "--set", "method.classes=3", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "method.classes is 3" in err and "--set method.classes=6" in err


def test_classes_default_to_the_data(tmp_path: Path, tiny_args: list[str]) -> None:
    out = tmp_path / "run"
    assert main(["train", "ce", *tiny_args, "--epochs", "1", "--out", str(out)]) == 0
    state = load_checkpoint(out / "checkpoints" / "last.pt")
    assert state["recipe"]["method"]["classes"] == 6  # the six shapes
    assert state["model"]["classifier.weight"].shape[0] == 6


def test_temporal_needs_sequences(
    tmp_path: Path, tiny_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "temporal", *tiny_args, "--data", "shapes", "--out", str(tmp_path / "r")]
    shapes = ["--set", "data.options={n_train: 96, n_test: 48}"]
    assert main([*args, *shapes, "--set", "method.moco.queue_size=128"]) == 2
    assert "method temporal needs frame sequences" in capsys.readouterr().err


def test_temporal_method_without_partner_frames_says_how() -> None:
    from contrastlab.config import load_recipe
    from contrastlab.core.errors import ConfigError
    from contrastlab.methods import build_method

    method = build_method(load_recipe(METHOD_RECIPES["temporal"], []))
    images = torch.zeros(4, 3, 32, 32, dtype=torch.uint8)
    with pytest.raises(ConfigError, match="partner frames"):
        method({"image": images, "label": torch.zeros(4, dtype=torch.long)}, torch.Generator())
