"""What the trainer expects of a method.

A method is an ``nn.Module`` with an ``encoder`` attribute (an `Encoder`: what evaluation and
transfer read) whose forward is ``loss, metrics = method(batch, generator)``: it makes its own views
from the batch with the trainer's generator and returns a scalar loss and detached scalar metrics.
No training loop, logging or I/O inside. A method with more than one useful feature space (LOOC)
has ``representations()``: name -> feature module, the backbone encoder among them; for the others
`method_representations` offers the backbone and, where there is a ``head``, its embedding.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from contrastlab.core.errors import ConfigError
from contrastlab.models.heads import HeadFeatures

Batch = dict[str, torch.Tensor]  # "image": uint8 (B, C, H, W) on the device; "label": int64 (B,)
StepOutput = tuple[torch.Tensor, dict[str, torch.Tensor]]


class ExtraTerm(Protocol):
    """A term a wrapping method adds to a contrastive method's loss (CLAE's adversarial views,
    `methods.clae`): ``alpha * term.loss(method, view_1, reference)``, where ``reference`` is
    what the method's own loss contrasted view 1 with (SimCLR: its projections; MoCo: the keys)."""

    alpha: float

    def loss(self, method: nn.Module, view: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """The term's value for this step."""
        ...


def method_encoder(method: nn.Module) -> nn.Module:
    """The encoder of a method (every method has one)."""
    encoder = getattr(method, "encoder", None)
    if not isinstance(encoder, nn.Module):
        raise TypeError(f"{type(method).__name__} has no `encoder` module")
    return encoder


def method_representations(method: nn.Module) -> dict[str, nn.Module]:
    """Name -> feature module of a method: its own ``representations()``, or the backbone and,
    for a method with a projection ``head`` (SimCLR, MoCo, SupCon, ...), ``embedding``: the unit
    output of the head, the space the contrastive loss itself shapes."""
    own = getattr(method, "representations", None)
    if callable(own):
        found: dict[str, nn.Module] = own()
        return found
    encoder = method_encoder(method)
    head = getattr(method, "head", None)
    if not isinstance(head, nn.Sequential):
        return {"backbone": encoder}
    return {"backbone": encoder, "embedding": HeadFeatures(encoder, [head], hidden=False)}


def method_representation(method: nn.Module, name: str) -> nn.Module:
    """The feature module ``name`` (``eval.representation``); ConfigError listing the valid ones."""
    found = method_representations(method)
    if name not in found:
        raise ConfigError(
            f"eval.representation {name!r} is not one of this method's: {', '.join(found)}"
        )
    return found[name]
