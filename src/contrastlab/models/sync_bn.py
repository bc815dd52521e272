"""Batch norm whose batch statistics are pooled over every rank of a sharded training step.

``torch.nn.SyncBatchNorm`` is PyTorch's answer on GPUs, but it refuses CPU tensors (so it cannot
run under the gloo backend, where our parity tests run) and it synchronises whenever a process
group exists, which would hang an evaluation that rank 0 runs alone. This one pools only inside
`contrastlab.core.distributed.sharded_step` and works on any device and backend: each rank's
per-channel count, mean and biased variance are gathered (with gradient) and combined exactly
(Chan et al.'s parallel formula), so a batch split over W ranks is normalised as one batch.
Outside a sharded step, in eval mode, or in one process it is ``F.batch_norm``, i.e. exactly
``nn.BatchNorm1d/2d``; its state dict is theirs, so checkpoints load into plain encoders.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from contrastlab.core.distributed import across_ranks, gather_with_grad
from contrastlab.models.split_bn import SplitBatchNorm

__all__ = ["SyncBatchNorm", "convert_sync_bn"]


class SyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over (N, C), (N, C, L) or (N, C, H, W) inputs, pooled across ranks when sharded."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in (2, 3, 4):
            raise ValueError(f"SyncBatchNorm expects 2-, 3- or 4-d input, got {input.dim()}-d")

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        if not (self.training and across_ranks()):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        wide = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x  # AMP: fp32 stats
        count = torch.tensor([x.numel() / x.shape[1]], device=x.device, dtype=wide.dtype)
        var, mean = torch.var_mean(wide, dim=dims, correction=0)
        stats = torch.cat([count, mean, var])  # (1 + 2C,)
        pooled = gather_with_grad(stats[None])  # (W, 1 + 2C), with gradient
        counts, means, variances = (
            pooled[:, :1],
            pooled[:, 1 : 1 + x.shape[1]],
            pooled[:, 1 + x.shape[1] :],
        )
        total = counts.sum()
        global_mean = (counts * means).sum(0) / total
        global_var = (counts * (variances + (means - global_mean).pow(2))).sum(0) / total
        if self.track_running_stats and self.running_mean is not None:
            assert self.running_var is not None and self.num_batches_tracked is not None
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (
                    1.0 / float(self.num_batches_tracked)
                    if self.momentum is None
                    else self.momentum
                )
                unbiased = global_var * total / (total - 1).clamp(min=1)
                self.running_mean.lerp_(global_mean.to(self.running_mean.dtype), momentum)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)
        shape = [1, -1] + [1] * (x.dim() - 2)
        out = (x - global_mean.view(shape).to(x.dtype)) * torch.rsqrt(
            global_var.view(shape) + self.eps
        ).to(x.dtype)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def convert_sync_bn(module: nn.Module) -> nn.Module:
    """``module`` with every BatchNorm1d/2d replaced by a `SyncBatchNorm` holding the same
    parameters and statistics (in place where nested; the new root when ``module`` is one).

    Split batch norms (MoCo's one-device emulation of per-GPU BN) are refused: pooling over the
    ranks and splitting within one are opposite choices.
    """
    if isinstance(module, SplitBatchNorm) and module.splits > 1:
        raise ValueError(
            "train.sync_bn pools batch statistics over the ranks, but this model splits them "
            f"into {module.splits} groups (method.moco.bn_splits); set method.moco.bn_splits=1"
        )
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        device, dtype = _placement(module)
        sync = SyncBatchNorm(
            module.num_features,
            eps=module.eps,
            momentum=module.momentum,
            affine=module.affine,
            track_running_stats=module.track_running_stats,
            device=device,
            dtype=dtype,
        )
        sync.load_state_dict(module.state_dict())
        sync.train(module.training)
        if module.affine:  # keep the very parameters (optimisers may already hold them)
            sync.weight, sync.bias = module.weight, module.bias
        return sync
    for name, child in module.named_children():
        setattr(module, name, convert_sync_bn(child))
    return module


def _placement(module: nn.Module) -> tuple[torch.device | None, torch.dtype | None]:
    """The device and floating dtype of ``module``'s statistics (a float64 model stays float64)."""
    for tensor in [*module.parameters(), *module.buffers()]:
        if tensor.is_floating_point():
            return tensor.device, tensor.dtype
    return None, None
