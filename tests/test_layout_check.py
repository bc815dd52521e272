"""The channels-last check: each distinct convolution in both layouts, in a child process."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from contrastlab.cli import main
from contrastlab.core.errors import ConfigError
from contrastlab.models import layout_check
from contrastlab.models.layout_check import channels_last_faults, check_channels_last, layout_error

SHORTCUT = nn.Sequential(nn.Conv2d(4, 8, 1, stride=2, bias=False), nn.Conv2d(8, 8, 3, padding=1))


def fake_child(monkeypatch: pytest.MonkeyPatch, **result: Any) -> list[str]:
    """Replace the child process by one that answers ``result``; the configs it was sent."""
    sent: list[str] = []

    def run(command: list[str], input: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        sent.extend(input.splitlines())
        if result.get("hang"):
            raise subprocess.TimeoutExpired(command, kwargs["timeout"])
        return subprocess.CompletedProcess(
            command, result.get("returncode", 0), result.get("stdout", ""), result.get("stderr", "")
        )

    monkeypatch.setattr(layout_check.subprocess, "run", run)
    return sent


def test_layouts_agree_for_a_convolution_with_eight_channels() -> None:
    config = {"in_channels": 8, "out_channels": 16, "kernel_size": [3, 3], "stride": [1, 1]}
    config |= {"padding": [1, 1], "dilation": [1, 1], "groups": 1, "bias": True}
    assert layout_error(config) < 1e-4  # summation order only: ~1e-6


def test_the_child_process_measures_each_distinct_convolution_once() -> None:
    """Through the real child: 8-channel convolutions agree in both layouts on every machine we
    measured, so a network of them (three, two alike) has no fault."""
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3), nn.Conv2d(8, 8, 3))
    assert channels_last_faults(net) == []


def test_a_fault_names_the_convolution_and_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = fake_child(monkeypatch, stdout="[0.0625, 1e-07]")
    assert channels_last_faults(SHORTCUT) == [
        "Conv2d(4, 8, kernel_size=(1, 1), stride=(2, 2)) differs by 0.062 (relative)"
    ]
    assert len(sent) == 2


def test_a_crash_or_a_hang_is_a_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_child(monkeypatch, returncode=-6, stderr="double free or corruption (!prev)\n")
    assert channels_last_faults(SHORTCUT) == [
        "the layout check crashed (SIGABRT, double free or corruption (!prev))"
    ]
    fake_child(monkeypatch, hang=True)
    assert channels_last_faults(SHORTCUT) == ["the layout check hung (no answer in 120 s)"]


def test_checked_only_for_channels_last_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout_check, "channels_last_faults", lambda module: ["Conv2d(...) bad"])
    cpu = torch.device("cpu")
    check_channels_last(False, SHORTCUT, cpu)
    check_channels_last("auto", SHORTCUT, cpu)  # auto: CUDA only
    check_channels_last(True, SHORTCUT, torch.device("cuda"))
    with pytest.raises(ConfigError, match=r"Conv2d\(\.\.\.\) bad; use --set train.channels_last="):
        check_channels_last(True, SHORTCUT, cpu)


def test_train_refuses_a_faulty_layout_before_the_run(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tiny_args: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(layout_check, "channels_last_faults", lambda module: ["Conv2d(4, 8) bad"])
    out = tmp_path / "run"
    args = ["train", "--out", str(out), *tiny_args, "--set", "train.channels_last=true"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "train.channels_last=true" in err and "Conv2d(4, 8) bad" in err
    assert "Traceback" not in err and not out.exists()
