"""A NaN or infinite loss or gradient never reaches the weights: the run stops naming the step
and the last good checkpoint (exit 2), or with ``train.on_nonfinite=skip`` leaves the step out
and counts it; a checkpoint with a non-finite weight is never written over a good one."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch


@pytest.mark.parametrize(
    ("fault", "what"),
    [
        ("nan-loss:3", "the loss is nan"),
        pytest.param("inf-grad:3", "the gradient norm is ", marks=pytest.mark.slow),
    ],
)
def test_nonfinite_step_stops_naming_step_and_checkpoint(
    harness: Any, uninterrupted_fp32: Path, tmp_path: Path, fault: str, what: str
) -> None:
    out = tmp_path / "run"
    message = harness.error(harness.cli(*harness.train, "--out", str(out), fault=fault))
    checkpoint = out / "checkpoints" / "last.pt"
    assert f"{what}" in message and "at epoch 1, step 4:" in message
    assert f"the last good checkpoint is {checkpoint} (step 2)" in message
    assert harness.checkpoint(out)["step"] == 2
    # the bad step was never applied: resuming (without the fault) ends as a clean run
    harness.ok(harness.cli("train", "--resume", str(out)))
    harness.assert_same(harness.checkpoint(out), harness.checkpoint(uninterrupted_fp32))


@pytest.mark.parametrize(
    "fault", ["nan-loss:3", pytest.param("inf-grad:3", marks=pytest.mark.slow)]
)
def test_skip_leaves_the_step_out_and_counts_it(harness: Any, tmp_path: Path, fault: str) -> None:
    """The skipped step 4 changes no weight and no optimiser state; the schedule moves on."""
    skip = ["--set", "train.on_nonfinite=skip", "--set", "train.checkpoint_every=1"]
    before, after = tmp_path / "before", tmp_path / "after"
    # a clean run stopped before step 4 (its checkpoint holds the state after step 3) ...
    killed = harness.cli(*harness.train, *skip, "--out", str(before), fault="kill-step:3")
    assert killed.returncode != 0
    # ... and the faulty run stopped after step 4 was skipped
    faulty = f"{fault},kill-step:4"
    assert harness.cli(*harness.train, *skip, "--out", str(after), fault=faulty).returncode != 0
    old, new = harness.checkpoint(before), harness.checkpoint(after)
    assert (old["step"], new["step"]) == (3, 4) and (
        old["skipped_steps"],
        new["skipped_steps"],
    ) == (
        0,
        1,
    )
    harness.assert_same(new["model"], old["model"])
    harness.assert_same(new["optimizer"]["state"], old["optimizer"]["state"])
    assert new["scheduler"]["last_epoch"] == old["scheduler"]["last_epoch"] + 1
    # run to the end: the epoch's row and metrics.json count the skipped step
    harness.ok(harness.cli("train", "--resume", str(after)))
    assert json.loads((after / "metrics.json").read_text())["skipped_steps"] == 1
    rows = harness.rows(after)
    assert [row.get("skipped_steps") for row in rows] == ["1", ""]
    assert all(math.isfinite(float(row["loss"])) for row in rows)


@pytest.mark.slow
def test_skip_stops_after_too_many_in_a_row(harness: Any, tmp_path: Path) -> None:
    out = tmp_path / "run"
    skip = ["--set", "train.on_nonfinite=skip", "--set", "train.max_skips_in_a_row=3"]
    done = harness.cli(*harness.train, *skip, "--out", str(out), fault="nan-loss-from:3")
    message = harness.error(done)
    assert "at epoch 1, step 6: 3 steps in a row were not finite" in message
    assert "(step 4)" in message  # steps 4 and 5 were skipped; the step-4 checkpoint is good
    assert harness.checkpoint(out)["skipped_steps"] == 1


def test_nonfinite_weights_never_replace_a_good_checkpoint(harness: Any, tmp_path: Path) -> None:
    """A weight turned infinite by step 4: the step-4 checkpoint is refused, step 2's stays."""
    out = tmp_path / "run"
    message = harness.error(harness.cli(*harness.train, "--out", str(out), fault="inf-weight:3"))
    assert "is not finite after step 4; the checkpoint was not written" in message
    assert "(step 2)" in message
    state = harness.checkpoint(out)
    assert state["step"] == 2
    assert all(
        bool(torch.isfinite(v).all()) for v in state["model"].values() if v.is_floating_point()
    )
