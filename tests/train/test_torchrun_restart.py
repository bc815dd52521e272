"""A rank killed mid-run: ``torchrun --max-restarts`` restarts the workers, which resume the run
from its last mid-epoch checkpoint and finish with the parameters of an uninterrupted run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ENTRY = Path(__file__).with_name("torchrun_entry.py")
TRAIN = [
    "train",
    "simclr",
    "--data",
    "shapes",
    "--epochs",
    "2",
    "--batch-size",
    "16",
    "--sync-bn",
    *["--set", "data.options.n_train=96", "--set", "data.options.n_test=48"],
    *["--set", "data.image_size=16", "--set", "model.width=0.0625"],
    *["--set", "model.head_out_dim=16", "--set", "train.progress=false"],
    *["--set", "train.checkpoint_every=2", "--set", "optim.name=sgd"],
    *["--set", "optim.warmup_epochs=0"],
]  # 6 steps per epoch, a checkpoint every 2 steps


def torchrun(out: Path, **env: str) -> str:
    command = [
        *(sys.executable, "-m", "torch.distributed.run", "--standalone"),
        *("--nproc_per_node", "2", "--max-restarts", "1", str(ENTRY), *TRAIN, "--out", str(out)),
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1", **env},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stderr


def final_state(run: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert checkpoint["step"] == 12
    state: dict[str, torch.Tensor] = checkpoint["model"]
    return state


@pytest.mark.slow  # 53 s on an AVX2 2-core machine, where the default suite passed 15 minutes
@pytest.mark.parametrize("kill_at", [5])  # mid-epoch 1, one step after the step-4 checkpoint
def test_killed_rank_restarts_to_the_same_parameters(tmp_path: Path, kill_at: int) -> None:
    clean = torchrun(tmp_path / "clean")
    assert "torchrun restart" not in clean
    log = torchrun(tmp_path / "killed", KILL_AT_STEP=str(kill_at), KILL_RANK="1")
    assert "torchrun restart 1: resuming the run in" in log
    assert f"after step {kill_at - 1}\n" in log  # from the mid-epoch checkpoint
    expected, resumed = final_state(tmp_path / "clean"), final_state(tmp_path / "killed")
    assert expected.keys() == resumed.keys()
    for key, value in expected.items():
        assert torch.equal(resumed[key], value), key
    assert (tmp_path / "killed" / "report.md").is_file()


def test_rank_zero_evaluates_like_one_process(tmp_path: Path) -> None:
    """After a 2-rank run, rank 0's figures equal `contrastlab eval` of the saved run in one
    process: evaluation is not sharded, and what rank 0 evaluated is what it saved."""
    torchrun(tmp_path / "run")
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    again = subprocess.run(
        [
            *(sys.executable, "-m", "contrastlab", "eval", str(tmp_path / "run")),
            *("--no-baseline", "--out", str(tmp_path / "again.json")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert again.returncode == 0, again.stderr[-3000:]
    figures = json.loads((tmp_path / "again.json").read_text())
    for key in ("knn_top1", "linear_top1", "retrieval_map_at_r", "kmeans_acc"):
        assert figures[key] == written[key], key


def test_one_process_resumes_mid_epoch(tmp_path: Path) -> None:
    """Without torchrun: SIGKILL at step 5, then ``--resume`` from the step-4 checkpoint."""

    def train(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ENTRY), *args],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "OMP_NUM_THREADS": "1", **env},
        )

    assert train(*TRAIN, "--out", str(tmp_path / "clean")).returncode == 0
    killed = train(*TRAIN, "--out", str(tmp_path / "killed"), KILL_AT_STEP="5", KILL_RANK="0")
    assert killed.returncode == -9
    resumed = train("train", "--resume", str(tmp_path / "killed"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "after step 4\n" in resumed.stderr
    expected, final = final_state(tmp_path / "clean"), final_state(tmp_path / "killed")
    for key, value in expected.items():
        assert torch.equal(final[key], value), key
