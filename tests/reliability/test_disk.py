"""A checkpoint write that fails (a full disk, a read-only directory) stops the run with a clear
error; the previous checkpoint stays readable, no partial file is left, and `--resume` finishes
the run with the parameters of one that never failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("disk-full:3", "No space left on device"),
        pytest.param("read-only:3", "Read-only file system", marks=pytest.mark.slow),
    ],
)
def test_failed_write_keeps_the_previous_checkpoint_and_resumes(
    harness: Any, uninterrupted: Path, tmp_path: Path, fault: str, reason: str
) -> None:
    out = tmp_path / "run"
    done = harness.cli(*harness.train, *harness.fp16, "--out", str(out), fault=fault)
    message = harness.error(done)
    checkpoint = out / "checkpoints" / "last.pt"
    assert f"could not write the checkpoint {checkpoint}: {reason}" in message
    assert f"the previous one is intact ({checkpoint} (step 4))" in message
    assert f"contrastlab train --resume {out}" in message
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["last.pt"]
    assert harness.checkpoint(out)["step"] == 4
    harness.ok(harness.cli("train", "--resume", str(out)))
    harness.assert_same(harness.checkpoint(out), harness.checkpoint(uninterrupted))


def test_any_failed_write_is_one_line_naming_the_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Beyond checkpoints (metrics.json, reports, figures): exit 2, the reason and the file."""
    import errno
    import os

    from contrastlab import cli

    target = tmp_path / "run" / ".metrics.json.x.tmp"

    def failing_write(args: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr("contrastlab.commands.train.run_train", failing_write)
    assert cli.main(["train"]) == 2
    err = capsys.readouterr().err
    assert err == f"contrastlab: error: No space left on device: {target}\n"
