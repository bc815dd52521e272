"""`eval.finetune_augment` reaches the fine-tuning and is recorded with its parameters."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from contrastlab.config import load_recipe
from contrastlab.evaluate import suite
from contrastlab.evaluate.suite import EvalData, SuiteOptions, finetune_with, protocol_params


@pytest.mark.parametrize("augment", [True, False])
def test_finetune_augment_is_passed_and_recorded(
    augment: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = [("eval.finetune_augment", augment), ("eval.protocols", ["finetune"])]
    config = load_recipe("simclr_resnet18w0.125_shapes_16e", settings)
    seen: dict[str, Any] = {}
    monkeypatch.setattr(suite, "finetune", lambda *args, **kwargs: seen.update(kwargs))
    images, labels = torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.tensor([0, 1, 0, 1])
    data = EvalData(images, labels, images, labels, num_classes=2)
    finetune_with(nn.Identity(), data, config.eval, SuiteOptions(), 1.0)
    assert seen["augment"] is augment
    recorded = protocol_params(config.eval, 2)["finetune"]["augment"]
    assert (recorded == "none") is (not augment)


def test_finetune_augment_must_be_a_boolean() -> None:
    with pytest.raises(Exception, match=r"eval\.finetune_augment"):
        load_recipe("simclr_resnet18w0.125_shapes_16e", [("eval.finetune_augment", "maybe")])
