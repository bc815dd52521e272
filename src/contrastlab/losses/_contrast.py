"""The shared kernel of NT-Xent and InfoNCE: softmax cross-entropy of anchors against a key set.

For unit anchors a_i (M, D), unit keys k_j (P, D), a positive index p(i) and optionally one
excluded key e(i) (the anchor itself, when it is also a key), the per-anchor loss is

    l_i = logsumexp_{j != e(i)} (a_i . k_j / tau) - a_i . k_{p(i)} / tau.

The gradient is written out instead of left to autograd: with s_ij the softmax over the allowed
keys, dl_i/d(a_i . k_j) = (s_ij - [j = p(i)]) / tau. That lets the forward pass keep only one
log-sum-exp per anchor and, with ``chunk_size``, recompute the logits of ``chunk_size`` anchors at a
time in the backward pass, so the extra memory is O(chunk_size x P) instead of O(M x P). Without
chunking the softmax matrix is kept from the forward pass (one M x P float32 matrix: the least any
non-recomputing implementation must hold). Float32 arithmetic (float64 for float64 inputs),
log-sum-exp, never raw exp, with autocast off in both passes (`float32_loss`; the backward may
run inside autocast too).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from contrastlab.losses._precision import float32_loss


def _chunks(rows: int, chunk_size: int | None) -> list[tuple[int, int]]:
    step = rows if chunk_size is None else chunk_size
    return [(start, min(start + step, rows)) for start in range(0, rows, step)]


def _logits(anchors: Tensor, keys: Tensor, excluded: Tensor | None, temperature: float) -> Tensor:
    logits = (anchors @ keys.T).div_(temperature)
    if excluded is not None:
        logits.scatter_(1, excluded[:, None], float("-inf"))
    return logits


class _ContrastLoss(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        anchors: Tensor,
        keys: Tensor,
        positives: Tensor,
        excluded: Tensor | None,
        temperature: float,
        chunk_size: int | None,
    ) -> Tensor:
        losses = anchors.new_empty(anchors.shape[0])
        lse = anchors.new_empty(anchors.shape[0])
        kept: Tensor | None = None
        for start, stop in _chunks(anchors.shape[0], chunk_size):
            excl = None if excluded is None else excluded[start:stop]
            logits = _logits(anchors[start:stop], keys, excl, temperature)
            lse[start:stop] = torch.logsumexp(logits, dim=1)
            pos = logits.gather(1, positives[start:stop, None]).squeeze(1)
            losses[start:stop] = lse[start:stop] - pos
            if chunk_size is None:
                kept = logits.sub_(lse[:, None]).exp_()  # the softmax, reused in backward
        ctx.save_for_backward(anchors, keys, positives, excluded, lse, kept)
        ctx.temperature, ctx.chunk_size = temperature, chunk_size
        return losses

    @staticmethod
    def backward(ctx: Any, grad_losses: Tensor) -> tuple[Tensor | None, ...]:
        with torch.autocast(grad_losses.device.type, enabled=False):
            return _ContrastLoss._backward(ctx, grad_losses)

    @staticmethod
    def _backward(ctx: Any, grad_losses: Tensor) -> tuple[Tensor | None, ...]:
        anchors, keys, positives, excluded, lse, kept = ctx.saved_tensors
        grad_anchors = torch.empty_like(anchors)
        need_keys = ctx.needs_input_grad[1]
        grad_keys = torch.zeros_like(keys) if need_keys else None
        for start, stop in _chunks(anchors.shape[0], ctx.chunk_size):
            if kept is not None:
                probs = kept  # read only: a second backward (retain_graph) sees it unchanged
            else:
                excl = None if excluded is None else excluded[start:stop]
                probs = _logits(anchors[start:stop], keys, excl, ctx.temperature)
                probs.sub_(lse[start:stop, None]).exp_()
            # d loss / d logits = scale * (probs - onehot(positive)); the one-hot and the scale
            # are applied on the (rows, D) side so the (rows, P) matrix is never rewritten.
            scale = (grad_losses[start:stop] / ctx.temperature)[:, None]
            pos = positives[start:stop]
            grad_anchors[start:stop] = (probs @ keys - keys[pos]).mul_(scale)
            if grad_keys is not None:
                scaled = anchors[start:stop] * scale
                grad_keys.addmm_(probs.T, scaled)
                grad_keys.index_add_(0, pos, scaled, alpha=-1.0)
        return grad_anchors, grad_keys, None, None, None, None


@float32_loss
def contrast_losses(
    anchors: Tensor,
    keys: Tensor,
    positives: Tensor,
    excluded: Tensor | None,
    temperature: float,
    chunk_size: int | None = None,
) -> Tensor:
    """Per-anchor losses (M,) of unit ``anchors`` (M, D) against unit ``keys`` (P, D), both
    float32 or both float64.

    ``positives`` (M,) int64 indexes each anchor's positive key; ``excluded`` (M,) int64, when
    given, a key left out of that anchor's denominator (itself). ``chunk_size`` bounds the rows of
    logits held at once.
    """
    out: Tensor = _ContrastLoss.apply(anchors, keys, positives, excluded, temperature, chunk_size)
    return out


def check_temperature(temperature: float) -> None:
    if not (isinstance(temperature, (int, float)) and temperature > 0):
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")


def check_chunk_size(chunk_size: int | None) -> None:
    if chunk_size is not None and not (isinstance(chunk_size, int) and chunk_size >= 1):
        raise ValueError(f"chunk_size must be None or an integer >= 1, got {chunk_size!r}")
