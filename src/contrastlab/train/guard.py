"""Non-finite numbers in training: the error the run stops with, and the checks behind it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from contrastlab.core.errors import ContrastlabError

__all__ = [
    "NonFiniteError",
    "first_nonfinite",
    "forward_state",
    "gradient_norm",
    "restore_forward_state",
]


class NonFiniteError(ContrastlabError):
    """A loss, gradient or weight became NaN or inf; nothing non-finite was applied or saved."""


def gradient_norm(parameters: Iterable[nn.Parameter]) -> float:
    """The 2-norm of all gradients together: NaN or inf when any entry is."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    return float(nn.utils.get_total_norm(grads))


def first_nonfinite(
    parameters: Iterable[tuple[str, torch.Tensor]], optimizer_state: Mapping[Any, Any]
) -> str | None:
    """The name of the first parameter, or optimiser state entry, holding a NaN or inf."""
    for name, tensor in parameters:
        if not bool(torch.isfinite(tensor.detach()).all()):
            return f"parameter {name}"
    for index, entries in optimizer_state.items():
        for key, value in entries.items():
            floating = isinstance(value, torch.Tensor) and value.is_floating_point()
            if floating and not bool(torch.isfinite(value).all()):
                return f"optimiser state {key!r} of parameter #{index}"
    return None


def forward_state(method: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of what a forward pass may change: every buffer (batch-norm statistics, MoCo's
    queue and pointer, IIC's loss averages) and every parameter not trained by the optimiser
    (a momentum encoder). Trained parameters change only in the optimiser step."""
    trained = {id(p) for p in method.parameters() if p.requires_grad}
    state = method.state_dict(keep_vars=True)
    return {name: t.detach().clone() for name, t in state.items() if id(t) not in trained}


def restore_forward_state(method: nn.Module, saved: dict[str, torch.Tensor]) -> None:
    """Put back what `forward_state` copied (a skipped step's forward leaves no trace)."""
    current = method.state_dict(keep_vars=True)
    with torch.no_grad():
        for name, value in saved.items():
            current[name].copy_(value)
