"""What machine a benchmark ran on: the figures of two machines are not comparable, only the
ratios measured side by side in one process are.

Recorded in every benchmark's JSON: the processor's name (``/proc/cpuinfo``), the vector
instructions PyTorch dispatches to (``torch.backends.cpu.get_cpu_capability()``), whether oneDNN
has native bf16 and fp16 kernels here, the torch build and the thread count.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import torch

from contrastlab.core.hardware import native_half


def processor_name() -> str:
    """The CPU's model name, from ``/proc/cpuinfo`` where there is one."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def describe(device: str = "cpu") -> dict[str, Any]:
    """The machine, for a benchmark's JSON and its first printed line."""
    found: dict[str, Any] = {
        "processor": processor_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": native_half(torch.bfloat16),
        "native_fp16": native_half(torch.float16),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if device != "cpu":
        found["gpu"] = torch.cuda.get_device_name(device)
    return found


def summary(found: dict[str, Any]) -> str:
    """One line: ``AMD EPYC (AVX2, no native bf16), 2 threads, torch 2.14.1``."""
    half = "native bf16" if found["native_bf16"] else "no native bf16"
    gpu = f", {found['gpu']}" if "gpu" in found else ""
    return (
        f"{found['processor']} ({found['cpu_capability']}, {half}), {found['threads']} threads, "
        f"torch {found['torch']}{gpu}"
    )
