"""The half-precision warning: when the CPU only emulates bf16/fp16, and only then."""

from __future__ import annotations

import pytest
import torch

from contrastlab.core import hardware
from contrastlab.core.hardware import half_precision_warning, native_half


def test_native_half_is_onednns_answer() -> None:
    assert native_half(torch.bfloat16) == torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert native_half(torch.float16) == torch.ops.mkldnn._is_mkldnn_fp16_supported()


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_warns_on_a_cpu_that_emulates_it(monkeypatch: pytest.MonkeyPatch, precision: str) -> None:
    monkeypatch.setattr(hardware, "native_half", lambda dtype: False)
    message = half_precision_warning(precision, torch.device("cpu"))
    assert message is not None
    assert f"train.precision={precision}" in message
    assert torch.backends.cpu.get_cpu_capability() in message
    assert "train.precision=fp32" in message


def test_silent_where_it_is_native_on_cuda_or_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware, "native_half", lambda dtype: False)
    assert half_precision_warning("fp32", torch.device("cpu")) is None
    assert half_precision_warning("bf16", torch.device("cuda")) is None
    monkeypatch.setattr(hardware, "native_half", lambda dtype: True)
    assert half_precision_warning("bf16", torch.device("cpu")) is None
