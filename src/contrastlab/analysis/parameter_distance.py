"""Distance between two models in parameter space.

Neyshabur, Sedghi & Zhang 2020 ("What is being transferred in transfer learning?", NeurIPS
2020) measure the l2 distance between the parameters of two fine-tuned models (two fine-tunes
of one pretrained checkpoint are close; two models trained from different random
initialisations are far apart) and between a model and its own initialisation. Here that is the
Frobenius norm of the difference of every floating-point tensor two state dicts share by name,
taken over all of them as one vector.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from contrastlab.core.errors import ContrastlabError

__all__ = ["parameter_distance", "parameters_of"]


def parameters_of(model: nn.Module) -> dict[str, Tensor]:
    """``model``'s trainable parameters by name (detached): the weights, not the batch-norm
    running statistics or other buffers, which the paper's distance leaves out."""
    return {name: p.detach() for name, p in model.named_parameters()}


def parameter_distance(state_a: Mapping[str, Tensor], state_b: Mapping[str, Tensor]) -> float:
    """sqrt(sum over names of ||a[name] - b[name]||_F^2) over the floating-point tensors.

    Both mappings must hold the same names with tensors of the same shapes (ContrastlabError
    otherwise, naming the first difference); integer tensors (e.g. batch-norm's
    ``num_batches_tracked``) are skipped. Computed in float64 on the CPU.
    """
    if set(state_a) != set(state_b):
        only = sorted(set(state_a) ^ set(state_b))
        raise ContrastlabError(f"the two models differ in their tensors: {', '.join(only[:5])}")
    total = 0.0
    for name, a in state_a.items():
        b = state_b[name]
        if a.shape != b.shape:
            raise ContrastlabError(
                f"{name} has shape {tuple(a.shape)} in one model and {tuple(b.shape)} in the other"
            )
        if not (torch.is_floating_point(a) and torch.is_floating_point(b)):
            continue
        diff = a.detach().to("cpu", torch.float64) - b.detach().to("cpu", torch.float64)
        total += float(torch.sum(diff * diff))
    return math.sqrt(total)
