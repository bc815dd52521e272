"""Optimisation speed: steps to a target on hand-made curves, and fine-tuning's learning curve."""

from __future__ import annotations

import pytest
import torch

from contrastlab.analysis.speed import speed_summary, steps_to_target
from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate.finetune import finetune

FAST = [{"step": 0, "top1": 0.2}, {"step": 10, "top1": 0.7}, {"step": 20, "top1": 0.9}]
SLOW = [{"step": 0, "top1": 0.2}, {"step": 10, "top1": 0.4}, {"step": 20, "top1": 0.6},
        {"step": 30, "top1": 0.7}]  # fmt: skip


def test_steps_to_target_by_hand() -> None:
    assert steps_to_target(FAST, 0.7) == 10 and steps_to_target(SLOW, 0.7) == 30
    assert steps_to_target(FAST, 0.95) is None and steps_to_target(FAST, 0.1) == 0
    with pytest.raises(ContrastlabError):
        steps_to_target([], 0.5)


def test_default_target_is_the_random_runs_final_accuracy() -> None:
    summary = speed_summary(FAST, SLOW)
    assert summary["target_top1"] == 0.7 and summary["target_is_random_final"]
    assert (summary["steps_pretrained"], summary["steps_random"]) == (10, 30)
    assert summary["speedup"] == 3.0
    explicit = speed_summary(FAST, SLOW, target=0.9)
    assert explicit["steps_random"] is None and explicit["speedup"] is None
    assert speed_summary(FAST, SLOW, target=0.1)["speedup"] is None  # both there at step 0
    with pytest.raises(ContrastlabError, match="target accuracy must be in"):
        speed_summary(FAST, SLOW, target=1.5)


def test_finetune_records_its_learning_curve() -> None:
    """A tiny network learning 'which half is lit': the curve starts before any step, samples
    every second epoch and the last, and its final point is the result's top-1."""
    gen = torch.Generator().manual_seed(0)
    images = torch.zeros(64, 3, 8, 8, dtype=torch.uint8)
    labels = torch.arange(64) % 2
    for i in range(64):
        rows = slice(0, 4) if labels[i] == 0 else slice(4, 8)
        images[i, :, rows] = 200 + torch.randint(0, 50, (1,), generator=gen).to(torch.uint8)
    encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 8))
    result = finetune(
        encoder, images, labels, images, labels, num_classes=2, fraction=1.0, epochs=5,
        batch_size=16, augment=False, curve_every=2,
    )  # fmt: skip
    assert [row["epoch"] for row in result.curve] == [0, 2, 4, 5]
    assert [row["step"] for row in result.curve] == [0, 8, 16, 20]
    assert "loss" not in result.curve[0] and result.curve[-1]["loss"] == result.final_loss
    assert result.curve[-1]["top1"] == result.top1 == 1.0
    with pytest.raises(ContrastlabError, match="curve_every"):
        finetune(encoder, images, labels, images, labels, num_classes=2, fraction=1.0,
                 curve_every=-1)  # fmt: skip
