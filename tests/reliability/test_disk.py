"""A write that fails (a full disk, a file-size limit, a read-only directory) stops the command
with a one-line error naming the file; the previous version of the file stays bit for bit, no
partial file is left, and a failed checkpoint write is finished by `--resume` as if it had never
failed. The faults are the OS's own: the real writers meet a real EFBIG (RLIMIT_FSIZE) or a real
EACCES (a directory without write permission, which root is made to honour: see fault_entry.py)."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("too-big:3", "File too large"),
        pytest.param("read-only:3", "Permission denied", marks=pytest.mark.slow),
        pytest.param("disk-full:3", "No space left on device", marks=pytest.mark.slow),
    ],
)
def test_failed_write_keeps_the_previous_checkpoint_and_resumes(
    harness: Any,
    uninterrupted: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    reason: str,
) -> None:
    out, previous = tmp_path / "run", tmp_path / "previous.pt"
    monkeypatch.setenv("FAULT_SNAPSHOT", str(previous))  # last.pt as the faulty write began
    done = harness.cli(*harness.train, *harness.fp16, "--out", str(out), fault=fault)
    checkpoint = out / "checkpoints" / "last.pt"
    checkpoint.parent.chmod(0o755)  # the user makes the directory writable again (read-only)
    message = harness.error(done)
    assert f"could not write the checkpoint {checkpoint}: {reason}" in message
    assert f"the previous one is intact ({checkpoint} (step 4))" in message
    assert f"contrastlab train --resume {out}" in message
    assert checkpoint.read_bytes() == previous.read_bytes()
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["last.pt"]
    assert not list(out.rglob("*.tmp"))
    assert harness.checkpoint(out)["step"] == 4
    harness.ok(harness.cli("train", "--resume", str(out)))
    harness.assert_same(harness.checkpoint(out), harness.checkpoint(uninterrupted))


def limit_file_size(size: int) -> Callable[[], None]:
    """For ``preexec_fn``: no file of the child grows past ``size`` bytes (Python ignores
    SIGXFSZ, so a write past it fails with EFBIG, "File too large")."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))

    return limit


def test_failed_write_of_metrics_json_names_it_and_keeps_the_previous_one(
    harness: Any, uninterrupted: Path, tmp_path: Path
) -> None:
    """Beyond checkpoints: `eval` merging its figures into a run's metrics.json (written by
    atomic_write_text, as reports and tables are) past a 256-byte file-size limit."""
    run = Path(shutil.copytree(uninterrupted, tmp_path / "run"))
    metrics = run / "metrics.json"
    before = metrics.read_bytes()
    assert len(before) > 256
    command = [sys.executable, "-m", "contrastlab", "eval", str(run), "--protocol", "knn"]
    done = subprocess.run(
        [*command, "--no-baseline"],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        preexec_fn=limit_file_size(256),
        timeout=300,
    )
    message = harness.error(done)
    assert "File too large" in message and str(metrics) in message
    assert metrics.read_bytes() == before
    assert not list(run.rglob("*.tmp"))
