"""Losses in float32 whatever ``train.precision``: autocast switched off around a loss function.

Under ``torch.autocast`` (bf16 or fp16 training) every matmul would come out in half precision:
the logits of NT-Xent, InfoNCE or SupCon rounded to 8 bits of mantissa before their log-sum-exp,
and the hand-written NT-Xent backward would meet a bf16 softmax beside float32 keys (it failed).
The losses take ``.float()`` inputs, so with autocast off their arithmetic is the fp32 one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import torch

P = ParamSpec("P")
R = TypeVar("R")


def float32_loss(loss: Callable[P, R]) -> Callable[P, R]:
    """``loss`` run with autocast off on the CPU and on CUDA (no-op outside autocast)."""

    @functools.wraps(loss)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with torch.autocast("cpu", enabled=False), torch.autocast("cuda", enabled=False):
            return loss(*args, **kwargs)

    return wrapper
