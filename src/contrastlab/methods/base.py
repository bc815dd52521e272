"""What the trainer expects of a method.

A method is an ``nn.Module`` with an ``encoder`` attribute (an `Encoder`: what evaluation and
transfer read) whose forward is ``loss, metrics = method(batch, generator)``: it makes its own views
from the batch with the trainer's generator and returns a scalar loss and detached scalar metrics.
No training loop, logging or I/O inside.
"""

from __future__ import annotations

import torch
from torch import nn

Batch = dict[str, torch.Tensor]  # "image": uint8 (B, C, H, W) on the device; "label": int64 (B,)
StepOutput = tuple[torch.Tensor, dict[str, torch.Tensor]]


def method_encoder(method: nn.Module) -> nn.Module:
    """The encoder of a method (every method has one)."""
    encoder = getattr(method, "encoder", None)
    if not isinstance(encoder, nn.Module):
        raise TypeError(f"{type(method).__name__} has no `encoder` module")
    return encoder
