"""Optimisers and the warm-up + cosine schedule."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from contrastlab.config.schema import OptimConfig
from contrastlab.optim.lars import LARS
from contrastlab.optim.optimizers import base_lr, build_optimizer, build_scheduler, warmup_cosine


def test_warmup_then_cosine_values() -> None:
    f = lambda s: warmup_cosine(s, total_steps=110, warmup_steps=10, final_fraction=0.0)  # noqa: E731
    assert [f(s) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.5)  # half-way through the cosine
    assert f(110) == pytest.approx(0.0, abs=1e-12)
    g = lambda s: warmup_cosine(s, total_steps=100, warmup_steps=0, final_fraction=0.1)  # noqa: E731
    assert g(0) == pytest.approx(1.0) and g(100) == pytest.approx(0.1)
    assert g(25) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 4)))


def test_scheduler_steps_per_batch() -> None:
    model = nn.Linear(2, 2)
    config = OptimConfig(lr=1.0, warmup_epochs=1)
    opt = build_optimizer(config, model, batch_size=256)
    sched = build_scheduler(config, opt, steps_per_epoch=4, epochs=3)
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[4] == pytest.approx(1.0) and lrs[-1] < 0.05


def test_linear_scaling_and_groups() -> None:
    assert base_lr(OptimConfig(lr=0.3, lr_scaling="linear"), 512) == pytest.approx(0.6)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    opt = build_optimizer(OptimConfig(weight_decay=0.1), model, 256)
    decay, no_decay = opt.param_groups
    assert [p.shape for p in decay["params"]] == [torch.Size([4, 3])] and decay[
        "weight_decay"
    ] == 0.1
    assert len(no_decay["params"]) == 3 and no_decay["weight_decay"] == 0.0
    assert isinstance(build_optimizer(OptimConfig(name="adam"), model, 256), torch.optim.AdamW)
    assert isinstance(build_optimizer(OptimConfig(name="lars"), model, 256), LARS)


def test_lars_step_by_hand() -> None:
    w = nn.Parameter(torch.tensor([3.0, 4.0]))  # ||w|| = 5
    w.grad = torch.tensor([0.6, 0.8])  # ||g|| = 1
    opt = LARS([{"params": [w], "weight_decay": 0.0, "lars": True}], lr=0.1, momentum=0.9, eta=0.01)
    opt.step()
    # trust = 0.01 * 5 / 1 = 0.05; update = lr * trust * g = 0.1 * 0.05 * g
    torch.testing.assert_close(
        w.detach(), torch.tensor([3.0, 4.0]) - 0.005 * torch.tensor([0.6, 0.8])
    )
    b = nn.Parameter(torch.tensor([1.0]))
    b.grad = torch.tensor([2.0])
    plain = LARS([{"params": [b], "weight_decay": 0.0, "lars": False}], lr=0.1)
    plain.step()
    assert b.item() == pytest.approx(1.0 - 0.2)
