"""`kill -9` at any moment, then `contrastlab train --resume`: the final parameters, optimiser,
schedule, AMP scaler, generators and evaluation equal those of a run that was never interrupted
(bit for bit, on the CPU). The run (conftest.py) trains MoCo with fp16 autocast."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

CASES = {
    "kill-step:0": "before the first step (no checkpoint yet: the resume starts over)",
    "kill-step:5": "mid-epoch 1, one step after the step-4 checkpoint",
    "kill-write:3": "in the middle of writing the end-of-epoch-1 checkpoint",
    "kill-saved:3": "just after the epoch-1 checkpoint, before metrics.csv is written",
    "kill-step:9": "mid-epoch 2, one step after the step-8 checkpoint",
    "kill-write:6": "in the middle of writing the final checkpoint",
    "kill-eval": "after training, as the evaluation starts",
}
QUICK = {"kill-write:3"}  # in the default suite; the others are marked slow


@pytest.mark.parametrize(
    "fault",
    [f if f in QUICK else pytest.param(f, marks=pytest.mark.slow) for f in CASES],
)
def test_killed_run_resumes_bit_identically(
    harness: Any, uninterrupted: Path, tmp_path: Path, fault: str
) -> None:
    out = tmp_path / "run"
    killed = harness.cli(*harness.train, *harness.fp16, "--out", str(out), fault=fault)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    if fault.startswith("kill-write"):  # the torn file is there, beside the previous checkpoint
        assert list((out / "checkpoints").glob(".last.pt.*.tmp"))
    said = harness.ok(harness.cli("train", "--resume", str(out)))
    if fault.startswith("kill-write"):
        assert "a partial write of the interrupted run" in said
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["last.pt"]
    expected, actual = harness.checkpoint(uninterrupted), harness.checkpoint(out)
    assert expected["step"] == 12 and expected["epoch"] == 2
    harness.assert_same(actual, expected)
    assert expected["scaler"]["scale"] < 65536.0  # the scaler backed off: its state was at stake
    assert harness.rows(out) == harness.rows(uninterrupted)
    mine = json.loads((out / "metrics.json").read_text())
    theirs = json.loads((uninterrupted / "metrics.json").read_text())
    harness.assert_same(mine, theirs)
    assert (out / "report.md").is_file()
