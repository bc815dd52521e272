"""Early training from an aligned first layer: the layer is re-sampled aligned with the data at
the norm it replaces, nothing else changes, and the training is deterministic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from contrastlab.api.aligned_start import align_first_layer_, early_training
from contrastlab.api.analyze_covariance import first_conv
from contrastlab.api.data import prepare_data
from contrastlab.api.training import with_classes
from contrastlab.config import load_recipe
from contrastlab.config.schema import Recipe
from contrastlab.core.errors import ContrastlabError
from contrastlab.methods import build_method, method_representation

SETTINGS: dict[str, Any] = {
    "data.options": {"n_train": 64, "n_test": 32},
    "data.image_size": 16,
    "model.width": 0.5,  # 32 filters of 27 weights: enough to see the alignment
    "train.batch_size": 32,
    "train.epochs": 2,
    "train.progress": False,
    "optim.name": "sgd",
    "optim.lr": 0.02,
}


def recipe(**more: Any) -> Recipe:
    return load_recipe("ce_resnet18w0.125_shapes_16e", list({**SETTINGS, **more}.items()))


def test_the_first_layer_is_resampled_aligned_at_its_own_norm_and_nothing_else_moves() -> None:
    built = recipe()
    data = prepare_data(built.data)
    built = with_classes(built, data.train)
    method, twin = build_method(built), build_method(built)
    report = align_first_layer_(method, built, data.train, None, seed=0)
    name, conv = first_conv(method_representation(method, "backbone"))
    assert report["layer"] == name
    assert float(conv.weight.detach().norm()) == pytest.approx(report["norm"], rel=1e-6)
    default_norm = float(first_conv(twin)[1].weight.detach().norm())
    assert report["norm"] == pytest.approx(default_norm, rel=1e-6)
    assert report["misalignment"] < 0.5 * report["misalignment_before"]
    changed = [
        key
        for (key, a), (_, b) in zip(
            method.state_dict().items(), twin.state_dict().items(), strict=True
        )
        if not torch.equal(a, b)
    ]
    assert changed == [f"encoder.{name}.weight"]


def test_early_training_is_paired_and_deterministic(tmp_path: Path) -> None:
    built = recipe()
    default = early_training(built, stem="default", epochs=1, run_dir=tmp_path / "d")
    again = early_training(built, stem="default", epochs=1, run_dir=tmp_path / "d2")
    aligned = early_training(built, stem="aligned", epochs=1, run_dir=tmp_path / "a")
    assert len(default["history"]) == 1 and default["stem"] == "default"
    assert default["history"][0]["loss"] == again["history"][0]["loss"]
    assert aligned["history"][0]["loss"] != default["history"][0]["loss"]
    assert torch.isfinite(torch.tensor(aligned["history"][0]["loss"]))
    assert "train_top1" in aligned["history"][0] and aligned["misalignment"] < 1.0
    assert (tmp_path / "a" / "checkpoints" / "last.pt").is_file()


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ContrastlabError, match="stem must be"):
        early_training(recipe(), stem="other", epochs=1, run_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ContrastlabError, match=r"epochs must be in 1\.\.2"):
        early_training(recipe(), stem="default", epochs=3, run_dir=tmp_path)
