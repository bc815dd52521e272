"""Auxiliary batch norms (AdvProp, Xie et al. CVPR 2020; used by CLAE, Ho & Vasconcelos 2020).

Adversarial inputs have other statistics than clean ones, so they get their own batch norms: every
BatchNorm of a network is duplicated (affine parameters and running statistics), while
convolution and linear weights stay shared. `AuxBatchNorms` holds the duplicates outside the
network and `AuxBatchNorms.active` swaps them in for the duration of a ``with`` block, so the
network's own modules (and its state-dict keys) never change and its main batch norms are not
touched by anything that runs inside the block.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

_SEP = "__"  # ModuleDict keys may not contain "."


def _batchnorm_paths(nets: Mapping[str, nn.Module]) -> list[str]:
    return [
        f"{prefix}.{name}"
        for prefix, net in nets.items()
        for name, module in net.named_modules()
        if isinstance(module, _BatchNorm)
    ]


def _parent(nets: Mapping[str, nn.Module], path: str) -> tuple[nn.Module, str]:
    prefix, _, rest = path.partition(".")
    *parents, leaf = rest.split(".")
    module = nets[prefix]
    for name in parents:
        module = module.get_submodule(name)
    return module, leaf


class AuxBatchNorms(nn.Module):
    """A copy of every batch norm in ``nets`` (name -> network), with its own ``momentum``.

    The copies start equal to the originals (same affine values, same statistics) and then train
    separately. Use ``with aux.active(nets): ...`` to run the networks through the copies.
    """

    def __init__(self, nets: Mapping[str, nn.Module], momentum: float | None) -> None:
        super().__init__()
        self.paths = _batchnorm_paths(nets)
        copies = {}
        for path in self.paths:
            parent, leaf = _parent(nets, path)
            bn = copy.deepcopy(parent.get_submodule(leaf))
            assert isinstance(bn, _BatchNorm)
            bn.momentum = momentum
            copies[path.replace(".", _SEP)] = bn
        self.norms = nn.ModuleDict(copies)

    @contextmanager
    def active(self, nets: Mapping[str, nn.Module]) -> Iterator[None]:
        """Within the block, ``nets`` (the same names as at construction) use the copies."""
        swapped: list[tuple[nn.Module, str, nn.Module]] = []
        try:
            for path in self.paths:
                parent, leaf = _parent(nets, path)
                swapped.append((parent, leaf, parent.get_submodule(leaf)))
                setattr(parent, leaf, self.norms[path.replace(".", _SEP)])
            yield
        finally:
            for parent, leaf, original in reversed(swapped):
                setattr(parent, leaf, original)
