"""Optimisers and the learning-rate schedule a recipe asks for."""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from contrastlab.config.schema import OptimConfig
from contrastlab.optim.lars import LARS


def base_lr(config: OptimConfig, batch_size: int) -> float:
    """The peak learning rate for the effective (global, all-process) batch B: ``lr``, or
    ``lr x B/256`` (linear, Goyal et al.), or ``lr x sqrt(B/256)`` (SimCLR's square root)."""
    if config.lr_scaling == "linear":
        return config.lr * batch_size / 256
    if config.lr_scaling == "sqrt":
        return config.lr * math.sqrt(batch_size / 256)
    return config.lr


def build_optimizer(
    config: OptimConfig, model: nn.Module, batch_size: int
) -> torch.optim.Optimizer:
    """SGD, LARS or Adam over two parameter groups: weights, and 1-d parameters (biases, norms).

    With ``exclude_bias_and_norm`` the second group gets no weight decay and, for LARS, no
    trust-ratio adaptation, as in SimCLR.
    """
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if config.exclude_bias_and_norm and param.ndim <= 1 else decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay, "lars": True}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0, "lars": False})
    lr = base_lr(config, batch_size)
    if config.name == "lars":
        return LARS(groups, lr=lr, momentum=config.momentum, eta=config.lars_eta)
    for group in groups:
        del group["lars"]
    if config.name == "adam":
        return torch.optim.AdamW(groups, lr=lr, betas=config.betas)
    return torch.optim.SGD(groups, lr=lr, momentum=config.momentum, nesterov=config.nesterov)


def warmup_cosine(
    step: int, *, total_steps: int, warmup_steps: int, final_fraction: float
) -> float:
    """The lr multiplier at ``step``: linear from 1/warmup to 1 over the warm-up, then cosine
    down to ``final_fraction``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(
    config: OptimConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int, epochs: int
) -> LambdaLR:
    """A per-step LambdaLR: warm-up over ``warmup_epochs`` then cosine over the rest of the run."""
    schedule = partial(
        warmup_cosine,
        total_steps=steps_per_epoch * epochs,
        warmup_steps=round(config.warmup_epochs * steps_per_epoch),
        final_fraction=config.final_lr_fraction,
    )
    return LambdaLR(optimizer, schedule)
