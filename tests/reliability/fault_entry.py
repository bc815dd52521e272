"""`contrastlab` with one fault injected, for the reliability tests: ``python fault_entry.py
train ...`` runs the real CLI; the environment variable FAULT picks the fault.

FAULT=kill-step:N    SIGKILL as the run is about to take optimiser step N (0: before the first)
FAULT=kill-write:N   SIGKILL in the middle of writing the Nth checkpoint (part of it on disk)
FAULT=kill-saved:N   SIGKILL just after the Nth checkpoint is written (before metrics.csv)
FAULT=kill-eval      SIGKILL as the evaluation after training starts
FAULT=disk-full:N    the Nth checkpoint write fails half-way with ENOSPC (no space left)
FAULT=too-big:N      the Nth checkpoint write fails half-way in the OS: the file-size limit
                     (RLIMIT_FSIZE) is half the checkpoint, so write() fails with EFBIG
FAULT=read-only:N    the Nth checkpoint write meets a read-only directory: checkpoints/ is
                     chmod 0555 and, for root, CAP_DAC_OVERRIDE is dropped while it writes (root
                     ignores mode bits otherwise), so creating the temporary file fails (EACCES)
FAULT=nan-loss:N     the loss of step N (0-based) is NaN
FAULT=nan-loss-from:N  the loss of step N and of every later step is NaN
FAULT=inf-grad:N     the loss of step N is finite but its gradient is infinite
FAULT=inf-weight:N   after step N a parameter becomes infinite (a diverging update)

Several faults are separated by commas. They fire in the first process only: a resumed run
(``--resume``) runs clean. With FAULT_SNAPSHOT=PATH, the checkpoint a faulty write would replace
is copied to PATH first, for the test to compare with what is left.
"""

from __future__ import annotations

import ctypes
import errno
import io
import os
import resource
import shutil
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import torch

import contrastlab.api.training as train_command
import contrastlab.train.checkpoint as checkpoint
import contrastlab.train.trainer as trainer_module
from contrastlab.cli import main
from contrastlab.train.trainer import Trainer


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _on_save(number: int, fault: str) -> None:
    """Replace the trainer's checkpoint writer: the ``number``-th write gets ``fault``."""
    count = 0

    def save(path: Path, state: dict[str, Any]) -> None:
        nonlocal count
        count += 1
        if count != number:
            checkpoint.save_checkpoint(path, state)
            return
        if fault == "kill-saved":
            checkpoint.save_checkpoint(path, state)
            _die()
        snapshot = os.environ.get("FAULT_SNAPSHOT")
        if snapshot and path.exists():
            shutil.copyfile(path, snapshot)
        if fault == "read-only":
            path.parent.chmod(0o555)
            with _without_dac_override():
                checkpoint.save_checkpoint(path, state)  # the real writer meets the real refusal
            return
        buffer = io.BytesIO()
        torch.save(state, buffer)
        data = buffer.getvalue()
        if fault == "too-big":
            with _file_size_limit(len(data) // 2):
                checkpoint.save_checkpoint(path, state)  # the real writer, the OS fails it
            return

        def half(handle: IO[bytes]) -> None:
            handle.write(data[: len(data) // 2])
            handle.flush()
            if fault == "kill-write":
                _die()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), handle.name)

        checkpoint.atomic_write(path, half)

    trainer_module.save_checkpoint = save  # type: ignore[assignment]


@contextmanager
def _file_size_limit(size: int) -> Iterator[None]:
    """No file of this process grows past ``size`` bytes meanwhile (Python ignores SIGXFSZ, so a
    write past it fails with EFBIG, "File too large")."""
    before = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, before[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, before)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


_CAPABILITY_VERSION_3 = 0x20080522  # linux/capability.h: two _CapData words
_CAP_DAC_OVERRIDE = 1  # lets root write where the mode bits say no


@contextmanager
def _without_dac_override() -> Iterator[None]:
    """This thread honours file mode bits meanwhile, as a non-root user always does: root's
    CAP_DAC_OVERRIDE leaves the effective set (capset(2)) and comes back after. A no-op for a
    process that does not hold it."""
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = _CapHeader(_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    effective = data[0].effective
    data[0].effective &= ~(1 << _CAP_DAC_OVERRIDE)
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")
    try:
        yield
    finally:
        data[0].effective = effective
        libc.capset(ctypes.byref(header), data)


def _on_step(number: int, fault: str) -> None:
    """Wrap the training step: step ``number`` gets ``fault``."""
    train_step = Trainer._train_step

    def faulty_step(self: Trainer, rows: Any) -> Any:
        if self.step != number and not (fault == "nan-loss-from" and self.step > number):
            return train_step(self, rows)
        if fault == "kill-step":
            _die()
        model = self.model
        forward = model.forward

        def bad_forward(*args: Any, **kwargs: Any) -> Any:
            loss, metrics = forward(*args, **kwargs)
            if fault in ("nan-loss", "nan-loss-from"):
                return loss * float("nan"), metrics
            if fault == "inf-grad":  # the loss value is unchanged, its gradient is infinite
                return _InfGrad.apply(loss), metrics
            return loss, metrics

        model.forward = bad_forward  # type: ignore[method-assign]
        try:
            result = train_step(self, rows)
        finally:
            model.forward = forward  # type: ignore[method-assign]
        if fault == "inf-weight":
            with torch.no_grad():
                next(self.method.parameters()).view(-1)[0] = float("inf")
        return result

    Trainer._train_step = faulty_step  # type: ignore[method-assign]


class _InfGrad(torch.autograd.Function):
    """Identity forward, infinite gradient backward."""

    @staticmethod
    def forward(ctx: Any, value: torch.Tensor) -> torch.Tensor:
        return value.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad * float("inf")


def _install() -> None:
    faults = os.environ.get("FAULT", "")
    if not faults or "--resume" in sys.argv:
        return
    for spec in faults.split(","):
        fault, _, number = spec.partition(":")
        if fault == "kill-eval":
            train_command._evaluate = lambda *args, **kwargs: _die()  # type: ignore[assignment]
        elif fault in ("kill-write", "kill-saved", "disk-full", "too-big", "read-only"):
            _on_save(int(number), fault)
        elif fault in ("kill-step", "nan-loss", "nan-loss-from", "inf-grad", "inf-weight"):
            _on_step(int(number), fault)
        else:
            raise SystemExit(f"unknown FAULT {fault!r}")


if __name__ == "__main__":
    _install()
    sys.exit(main(sys.argv[1:]))
