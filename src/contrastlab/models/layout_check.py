"""Channels-last on the CPU: is every convolution of a network computed right in that layout?

With torch 2.14.1 on an AVX2 processor (AMD EPYC), a channels-last 1x1 stride-2 convolution with
fewer than 8 input channels computes wrong weight gradients (relative error up to 0.96 against
the contiguous layout), different at every call with 2 threads, and with 1 thread corrupts the
heap ("double free or corruption"): ResNet-18 at width 1/16 has one (layer2's shortcut, 4 -> 8).
So each distinct convolution is run in both layouts first, in a child process that may crash.

The check imports only torch (it runs in a child process, whose start is most of its cost).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import torch
from torch import nn

from contrastlab.core.errors import ConfigError

__all__ = ["channels_last_faults", "check_channels_last", "layout_error"]

CHECK_SECONDS = 120  # it takes 3-7 s on 2 cores (mostly the child's start)
LAYOUT_TOLERANCE = 1e-3  # relative: the layouts differ by ~1e-6 (summation order) where both work


def _conv_config(conv: nn.Conv2d) -> dict[str, Any]:
    return {
        "in_channels": conv.in_channels,
        "out_channels": conv.out_channels,
        "kernel_size": list(conv.kernel_size),
        "stride": list(conv.stride),
        "padding": conv.padding if isinstance(conv.padding, str) else list(conv.padding),
        "dilation": list(conv.dilation),
        "groups": conv.groups,
        "bias": conv.bias is not None,
    }


def layout_error(config: dict[str, Any], flop_budget: float = 2e9) -> float:
    """The largest relative difference between the contiguous layout and channels-last in one
    convolution's output, input gradient and weight gradient (8 seeded random 16x16 inputs).

    The fault above is a race: one call in five went wrong with 2 threads. So channels-last is
    run again and again, up to 50 times or ``flop_budget`` FLOPs (at least 3 times), against one
    contiguous reference."""
    generator = torch.Generator().manual_seed(0)
    conv = nn.Conv2d(**config)
    x = torch.randn(8, config["in_channels"], 16, 16, generator=generator)

    def run(layout: torch.memory_format) -> tuple[torch.Tensor, ...]:
        conv.zero_grad(set_to_none=True)
        conv.to(memory_format=layout)
        inputs = x.clone(memory_format=layout).requires_grad_()
        out = conv(inputs)
        out.square().sum().backward()
        assert inputs.grad is not None and conv.weight.grad is not None
        return out.detach(), inputs.grad, conv.weight.grad.clone()

    reference = run(torch.contiguous_format)
    step_flops = 6 * reference[0].numel() * conv.weight[0].numel()  # forward and backward
    repeats = int(min(50, max(3, flop_budget / step_flops)))
    worst = 0.0
    for _ in range(repeats):
        for a, b in zip(reference, run(torch.channels_last), strict=True):
            worst = max(worst, float((a - b).abs().max() / a.abs().max().clamp_min(1e-12)))
    return worst


def channels_last_faults(module: nn.Module) -> list[str]:
    """Each distinct ``nn.Conv2d`` of ``module`` whose channels-last result on this CPU differs
    from the contiguous one by more than `LAYOUT_TOLERANCE`, or crashed, described in a line.
    Runs in a child process with this process's thread count (a crash there is reported)."""
    configs = list(
        {json.dumps(_conv_config(m)): None for m in module.modules() if isinstance(m, nn.Conv2d)}
    )
    if not configs:
        return []
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    try:
        child = subprocess.run(
            [sys.executable, "-m", "contrastlab.models.layout_check"],
            input="\n".join(configs),
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=CHECK_SECONDS,
        )
    except subprocess.TimeoutExpired:  # seen: a corrupted heap can deadlock the child
        return [f"the layout check hung (no answer in {CHECK_SECONDS} s)"]
    if child.returncode != 0:
        lines = child.stderr.strip().splitlines() or ["no output"]
        if child.returncode < 0:
            said = f"{signal.Signals(-child.returncode).name}, {lines[0]}"
        else:
            said = f"exit {child.returncode}, {lines[-1]}"
        return [f"the layout check crashed ({said})"]
    faults = []
    for config, error in zip(configs, json.loads(child.stdout), strict=True):
        if error > LAYOUT_TOLERANCE:
            c = json.loads(config)
            conv = f"Conv2d({c['in_channels']}, {c['out_channels']}, "
            conv += f"kernel_size={tuple(c['kernel_size'])}, stride={tuple(c['stride'])})"
            faults.append(f"{conv} differs by {error:.2g} (relative)")
    return faults


def check_channels_last(requested: bool | str, module: nn.Module, device: torch.device) -> None:
    """Refuse ``train.channels_last`` on the CPU where a convolution of ``module`` computes
    wrongly in that layout (`channels_last_faults`); CUDA, and the contiguous layout, pass."""
    from contrastlab.models import channels_last_allowed  # not in the child: it is slow to import

    if device.type != "cpu" or not channels_last_allowed(requested, device):
        return
    faults = channels_last_faults(module)
    if faults:
        raise ConfigError(
            f"train.channels_last=true: on this CPU ({torch.backends.cpu.get_cpu_capability()}, "
            f"torch {torch.__version__}) channels-last computes wrongly: {'; '.join(faults)}; "
            "use --set train.channels_last=false (or auto)"
        )


if __name__ == "__main__":  # the child of `channels_last_faults`: configs in, errors out
    print(json.dumps([layout_error(json.loads(line)) for line in sys.stdin.read().splitlines()]))
