"""Losses in float32 or wider whatever ``train.precision``: autocast switched off around a loss.

Under ``torch.autocast`` (bf16 or fp16 training) every matmul would come out in half precision:
the logits of NT-Xent, InfoNCE or SupCon rounded to 8 bits of mantissa before their log-sum-exp,
and the hand-written NT-Xent backward would meet a bf16 softmax beside float32 keys (it failed).
The losses cast their inputs with `upcast`, so with autocast off their arithmetic is the fp32 one
for half and float32 inputs, and the fp64 one for float64 inputs: a float64 caller (a reference
computation, ``gradcheck``) gets a float64 loss, not one silently rounded to float32.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import torch
from torch import Tensor

P = ParamSpec("P")
R = TypeVar("R")


def float32_loss(loss: Callable[P, R]) -> Callable[P, R]:
    """``loss`` run with autocast off on the CPU and on CUDA (no-op outside autocast)."""

    @functools.wraps(loss)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with torch.autocast("cpu", enabled=False), torch.autocast("cuda", enabled=False):
            return loss(*args, **kwargs)

    return wrapper


def loss_dtype(*tensors: Tensor | None) -> torch.dtype:
    """The dtype a loss computes in: float32, or float64 when an input is float64 (half types,
    integers and float32 all give float32)."""
    dtype = torch.float32
    for tensor in tensors:
        if tensor is not None:
            dtype = torch.promote_types(dtype, tensor.dtype)
    return dtype


def upcast(*tensors: Tensor) -> tuple[Tensor, ...]:
    """``tensors`` cast to their common `loss_dtype`."""
    dtype = loss_dtype(*tensors)
    return tuple(tensor.to(dtype) for tensor in tensors)
