"""Split batch-norm: per-GPU BatchNorm statistics emulated on one device (MoCo's CIFAR demo).

MoCo shuffles the key batch across GPUs so that BatchNorm statistics, computed per GPU, cannot leak
which query and key belong together. On one device the same effect needs the batch normalised in
groups, as if spread over ``splits`` GPUs; keys are then shuffled before the key encoder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SplitBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d that, in training, normalises ``splits`` interleaved groups of the batch apart.

    Group g holds the samples whose index is g modulo ``splits``. Each group updates its own copy
    of the running statistics and the copies are averaged back, as in MoCo's ``SplitBatchNorm``.
    In eval mode, or with ``splits`` = 1, it is exactly ``nn.BatchNorm2d``; its state dict is the
    same, so an encoder trained with it loads into one built with plain BatchNorm.
    """

    def __init__(self, num_features: int, splits: int, **kwargs: object) -> None:
        super().__init__(num_features, **kwargs)  # type: ignore[arg-type]
        self.splits = splits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.splits == 1:
            return super().forward(x)
        n, c, h, w = x.shape
        s = self.splits
        if n % s:
            raise ValueError(f"SplitBatchNorm: batch {n} is not divisible by {s} splits")
        mean = self.running_mean
        var = self.running_var
        assert mean is not None and var is not None and self.weight is not None
        mean_split, var_split = mean.repeat(s), var.repeat(s)
        out = F.batch_norm(
            x.reshape(n // s, c * s, h, w),
            mean_split,
            var_split,
            self.weight.repeat(s),
            self.bias.repeat(s),
            True,
            self.momentum if self.momentum is not None else 0.1,
            self.eps,
        ).reshape(n, c, h, w)
        with torch.no_grad():
            mean.copy_(mean_split.view(s, c).mean(0))
            var.copy_(var_split.view(s, c).mean(0))
            if self.num_batches_tracked is not None:
                self.num_batches_tracked.add_(1)
        return out


def convert_split_bn(module: nn.Module, splits: int) -> nn.Module:
    """Replace every ``BatchNorm2d`` in ``module`` (in place) by a `SplitBatchNorm` with the same
    parameters and statistics. ``splits`` = 1 leaves the module as it is."""
    if splits == 1:
        return module
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            split = SplitBatchNorm(
                child.num_features, splits, eps=child.eps, momentum=child.momentum
            )
            split.load_state_dict(child.state_dict())
            setattr(module, name, split)
        else:
            convert_split_bn(child, splits)
    return module
