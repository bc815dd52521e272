"""One writer per run directory: while a process holds a run directory's lock, `train --out` it,
`train --resume` it and `eval` into it are refused in one line naming the directory and the
holder, and write nothing; the lock goes with its holder, even under ``kill -9``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from contrastlab.cli import main
from contrastlab.config import read_yaml
from contrastlab.core.errors import ConfigError
from contrastlab.train.checkpoint import load_checkpoint
from contrastlab.train.lock import LOCK_NAME, RunLock

TINY = [
    *("--epochs", "1", "--batch-size", "16"),
    *["--set", "data.options.n_train=32", "--set", "data.options.n_test=32"],
    *["--set", "data.image_size=16", "--set", "model.width=0.0625"],
    *["--set", "model.head_out_dim=16", "--set", "train.progress=false"],
    *["--set", "eval.protocols=[knn]", "--set", "eval.random_baseline=false"],
    *["--set", "eval.knn_k=5"],
]
HOLD = (  # another process takes the lock the way `train` does, says so, and waits
    "import sys; from pathlib import Path; from contrastlab.train.lock import RunLock; "
    "RunLock(Path(sys.argv[1]), 'contrastlab train').acquire(); print('held', flush=True); "
    "sys.stdin.read()"
)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("locked") / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


@contextmanager
def holder(directory: Path) -> Iterator[subprocess.Popen[str]]:
    """A process holding ``directory``'s lock until it is killed."""
    directory.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-c", HOLD, str(directory)]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def contents(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def refused(capsys: pytest.CaptureFixture[str], argv: list[str], directory: Path) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("contrastlab: error: "), err
    assert f"{directory} is in use by another contrastlab process (pid " in err[0]
    return err[0]


def test_second_train_into_a_held_directory_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    with holder(out) as proc:
        before = contents(out)
        message = refused(capsys, ["train", *TINY, "--out", str(out)], out)
        assert f"pid {proc.pid}, contrastlab train" in message
        assert contents(out) == before  # only the holder's lock file
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]


def test_resume_and_eval_of_a_held_run_are_refused(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = Path(shutil.copytree(finished, tmp_path / "run"))
    with holder(run):
        before = contents(run)
        refused(capsys, ["train", "--resume", str(run)], run)
        refused(capsys, ["eval", str(run), "--protocol", "knn", "--no-baseline"], run)
        assert contents(run) == before


def test_the_lock_goes_with_a_killed_holder(tmp_path: Path) -> None:
    """``kill -9`` leaves the lock file, but not the lock: the next writer gets in at once."""
    with holder(tmp_path) as proc:
        with pytest.raises(ConfigError, match="in use by another contrastlab process"):
            RunLock(tmp_path).acquire()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert (tmp_path / LOCK_NAME).exists()
        with RunLock(tmp_path, "test") as lock:
            assert lock.held
            assert (tmp_path / LOCK_NAME).read_text() == f"pid {os.getpid()}, test\n"


# import everything training needs (the command's parser loads none of it), then wait for the go
# file: both reach `train` at once
START_TOGETHER = (
    "import sys, time; from pathlib import Path; import contrastlab.api.training; "
    "from contrastlab.cli import main; go = Path(sys.argv[1]); print('ready', flush=True)\n"
    "while not go.exists(): time.sleep(0.005)\n"
    "sys.exit(main(sys.argv[2:]))"
)


@pytest.mark.slow
def test_two_trains_started_together_leave_one_consistent_run(tmp_path: Path) -> None:
    """The issue's probe: both used to exit 0, leaving one's config.yaml and the other's
    checkpoint. Started at the same moment (both past the "already holds a run" check before
    either writes), one trains and the other is refused, so config.yaml, the checkpoint and the
    events are all of one seed."""
    out, go = tmp_path / "run", tmp_path / "go"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-c", START_TOGETHER, str(go), "train", *TINY, "--out", str(out)]
    procs = [
        subprocess.Popen(
            [*command, "--seed", seed],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for seed in ("1", "2")
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    go.touch()
    done = [(proc.communicate(timeout=300)[1], proc.returncode)[::-1] for proc in procs]
    assert sorted(code for code, _ in done) == [0, 2], done
    loser = next(err for code, err in done if code == 2).strip().splitlines()[-1]
    assert f"{out} is in use by another contrastlab process" in loser
    winner = next(seed for seed, (code, _) in zip(("1", "2"), done, strict=True) if code == 0)
    checkpoint = load_checkpoint(out / "checkpoints" / "last.pt")
    assert checkpoint["recipe"]["train"]["seed"] == int(winner)
    assert read_yaml(out / "config.yaml")["train"]["seed"] == int(winner)
    assert len(list((out / "tensorboard").iterdir())) == 1
