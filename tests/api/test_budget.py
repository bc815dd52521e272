"""`--budget`: durations, and a run's length fixed from its measured step time."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from contrastlab.api import budget as budget_module
from contrastlab.api.budget import parse_budget, sized_to_budget
from contrastlab.config import DEFAULT_RECIPE, load_recipe
from contrastlab.core.errors import ConfigError
from contrastlab.data import ImageTensors
from contrastlab.methods import build_method
from contrastlab.train.trainer import Trainer

CPU = torch.device("cpu")
TINY = [
    ("data.image_size", 16),
    ("model.width", 0.0625),
    ("model.head_out_dim", 8),
    ("train.batch_size", 10),
]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("10m", 600), ("1.5h", 5400), ("0.2min", 12), (" 30 sec ", 30)],
)
def test_parse_budget(text: str, seconds: float) -> None:
    assert parse_budget(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["10", "ten minutes", "5s", "-1m", "8d"])
def test_parse_budget_refuses(text: str) -> None:
    with pytest.raises(ConfigError, match="--budget"):
        parse_budget(text)


def data(n: int) -> ImageTensors:
    pixels = torch.randint(0, 256, (n, 3, 16, 16), generator=torch.Generator().manual_seed(0))
    return ImageTensors(pixels.to(torch.uint8), torch.arange(n) % 2, {}, ["a", "b"], "x")


def test_length_is_the_budget_over_the_measured_step(monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = load_recipe(DEFAULT_RECIPE, TINY)
    monkeypatch.setattr(budget_module, "_measure_step", lambda *args: (0.5, 6))
    sized, budget = sized_to_budget(
        recipe, build_method(recipe), data(100), torch.device("cpu"), 60
    )
    # 60 s / 0.5 s = 120 steps; 100 images / batch 10 = 10 steps per epoch -> 12 epochs
    assert (budget.epochs, budget.steps, budget.steps_per_epoch) == (12, 120, 10)
    assert sized.train.epochs == 12 and sized.train.batch_size == 10
    assert "12 epochs of 10 steps = 120 steps" in budget.sentence()
    _, short = sized_to_budget(recipe, build_method(recipe), data(100), torch.device("cpu"), 1)
    assert short.epochs == 1  # never less than one epoch
    _, under = sized_to_budget(recipe, build_method(recipe), data(100), torch.device("cpu"), 69)
    assert under.epochs == 13  # 138 steps fit: 13 whole epochs, not 14 (the budget is a bound)


def test_progressive_stages_are_timed_and_weighted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each view size is timed on the method at that size; the step time is their mean
    weighted by the share of the run each size takes."""
    stages = [[0.0, 8], [0.25, 16]]
    recipe = load_recipe(DEFAULT_RECIPE, [*TINY, ("train.view_sizes", stages)])
    seen: list[int] = []

    def timed(trainer, order, batch, device, seconds):  # type: ignore[no-untyped-def]
        side = trainer.method.views.image_size
        seen.append((side, seconds))
        return side / 8.0, 7  # 1 s at 8 px, 2 s at 16 px

    monkeypatch.setattr(budget_module, "_timed_steps", timed)
    _, budget = sized_to_budget(recipe, build_method(recipe), data(100), torch.device("cpu"), 1750)
    share = budget_module.MEASURE_SHARE * 1750  # the timing's seconds, split by the stages' shares
    assert seen == [(8, pytest.approx(0.25 * share)), (16, pytest.approx(0.75 * share))]
    assert budget.step_seconds == pytest.approx(0.25 * 1 + 0.75 * 2)
    assert budget.steps == 1000  # 1750 s / 1.75 s
    assert budget.measured_steps == 14 and "measured over 14 steps" in budget.sentence()


@pytest.mark.parametrize(("seconds", "timed"), [(0.1, 6), (3.0, 30), (1000.0, 500)])
def test_a_stage_is_timed_for_its_seconds(
    monkeypatch: pytest.MonkeyPatch, seconds: float, timed: int
) -> None:
    """At 0.1 s a step: at least `TIMED_STEPS`, as many as fill the stage's seconds, at most
    `MAX_TIMED_STEPS`; the `WARM_STEPS` before are not timed."""
    steps: list[int] = []

    class Loop:  # the one method of the Trainer that the timing calls
        def _train_step(self, rows: torch.Tensor) -> None:
            steps.append(len(rows))

    clock = iter(0.1 * i for i in range(10_000))
    monkeypatch.setattr(budget_module.time, "perf_counter", lambda: next(clock))
    loop: Any = Loop()
    mean, count = budget_module._timed_steps(loop, torch.arange(100), 10, CPU, seconds)
    assert count == timed and mean == pytest.approx(0.1)
    assert len(steps) == budget_module.WARM_STEPS + timed and set(steps) == {10}


def test_measured_step_is_a_real_step() -> None:
    """Without stubs: a positive, finite time, and the method given is left untouched."""
    recipe = load_recipe(DEFAULT_RECIPE, TINY)
    method = build_method(recipe)
    before = {k: v.clone() for k, v in method.state_dict().items()}
    seconds, timed = budget_module._measure_step(recipe, method, data(40), torch.device("cpu"), 0)
    assert 0 < seconds < 30 and timed == budget_module.TIMED_STEPS
    after = method.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_fresh_network_warms_up_before_any_stage_is_timed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`WARM_UP_STEPS` untimed steps at the first view size come before the timed stages (a
    fresh network's first steps are slow for longer than `WARM_STEPS`)."""
    recipe = load_recipe(DEFAULT_RECIPE, [*TINY, ("train.view_sizes", [[0.0, 8], [0.5, 16]])])
    calls: list[tuple[str, int]] = []

    def step(trainer, rows):  # type: ignore[no-untyped-def]
        calls.append(("untimed", trainer.method.views.image_size))

    def timed(trainer, order, batch, device, seconds):  # type: ignore[no-untyped-def]
        calls.append(("timed", trainer.method.views.image_size))
        return 1.0, 6

    monkeypatch.setattr(Trainer, "_train_step", step)
    monkeypatch.setattr(budget_module, "_timed_steps", timed)
    budget_module._measure_step(recipe, build_method(recipe), data(100), torch.device("cpu"), 1)
    warm_up = [("untimed", 8)] * budget_module.WARM_UP_STEPS
    assert calls == [*warm_up, ("timed", 8), ("timed", 16)]
