"""Supervised contrastive loss, L_out and L_in.

Khosla, Teterwak, Wang, Sarna, Tian, Isola, Maschinot, Liu, Krishnan, "Supervised Contrastive
Learning", NeurIPS 2020 (arXiv 2004.11362), eqs. (2) and (3).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from contrastlab.core.distributed import gather_no_grad, gather_with_grad, rank_and_world
from contrastlab.losses._contrast import check_chunk_size, check_temperature
from contrastlab.losses._precision import float32_loss, upcast

Variant = Literal["out", "in"]
AnchorMode = Literal["all", "one"]


@float32_loss
def supcon(
    features: Tensor,
    labels: Tensor | None = None,
    temperature: float = 0.1,
    *,
    variant: Variant = "out",
    base_temperature: float | None = None,
    anchor_mode: AnchorMode = "all",
    gather: bool = False,
    chunk_size: int | None = None,
) -> Tensor:
    r"""SupCon over V views of N samples, mean over the anchors that have a positive.

    With unit vectors u (all N V views), A(i) every view but anchor i, and P(i) the views in A(i)
    with anchor i's label,

    .. math::
        L^{out}_i = \frac{-1}{|P(i)|} \sum_{p \in P(i)}
            \log \frac{\exp(u_i \cdot u_p / \tau)}{\sum_{a \in A(i)} \exp(u_i \cdot u_a / \tau)},
        \qquad
        L^{in}_i = -\log \Big( \frac{1}{|P(i)|} \sum_{p \in P(i)}
            \frac{\exp(u_i \cdot u_p / \tau)}{\sum_{a \in A(i)} \exp(u_i \cdot u_a / \tau)} \Big).

    By Jensen's inequality L_in <= L_out, with equality when every anchor has one positive.
    ``labels=None`` is the self-supervised case (a sample's other views are its positives); with
    V = 2 it equals `nt_xent`. ``base_temperature`` multiplies the loss by tau / base_temperature
    as SupContrast does (0.07 reproduces its scale); None leaves it unscaled. ``anchor_mode="one"``
    uses only view 0 of each sample as an anchor (SupContrast's ``contrast_mode='one'``); the
    contrast set is still every view. Anchors without a positive are left out of the mean; if no
    anchor has one, ValueError. Float32 log-sum-exps whatever the input dtype (float64 ones for
    float64 inputs).

    Args:
        features: (N, V, D) embeddings (normalised here).
        labels: (N,) integer class labels, or None.
        temperature: tau > 0.
        variant: "out" (L_out, the paper's choice) or "in".
        base_temperature: optional rescaling, see above.
        anchor_mode: "all" or "one".
        gather: under ``torch.distributed``, the contrast set holds every rank's views (gathered
            with gradient); each rank's loss is the mean over its own anchors. No-op in one process.
        chunk_size: process at most this many anchors at a time, recomputing them in the backward
            pass (memory O(chunk_size x N V)); the result is the same.
    """
    n, v = _check(features, labels, temperature, variant, anchor_mode, base_temperature)
    check_chunk_size(chunk_size)
    rank, _ = rank_and_world()
    units = F.normalize(upcast(features)[0], dim=2)
    local = torch.cat(units.unbind(dim=1))  # view-major: all view-0 rows, then view 1, ...
    ids = torch.arange(n, device=units.device) + rank * n if labels is None else labels
    local_ids = ids.to(units.device).repeat(v)
    keys = gather_with_grad(local) if gather else local
    key_ids = gather_no_grad(local_ids) if gather else local_ids
    rows = n if anchor_mode == "one" else n * v
    own = torch.arange(rows, device=units.device) + rank * n * v
    total = local.new_zeros(())
    counted = local.new_zeros(())
    step = rows if chunk_size is None else chunk_size
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        args = (local[start:stop], keys, local_ids[start:stop], key_ids, own[start:stop])
        if chunk_size is None:
            part, count = _anchor_losses(*args, temperature, variant)
        else:
            part, count = checkpoint(
                _anchor_losses, *args, temperature, variant, use_reentrant=False
            )
        total = total + part
        counted = counted + count
    if counted.item() == 0:
        raise ValueError(
            "supcon: no anchor has a positive (every label is unique and V = 1?); the loss is "
            "undefined. Give each sample 2 views or labels shared by several samples."
        )
    scale = 1.0 if base_temperature is None else temperature / base_temperature
    return total / counted * scale


def _anchor_losses(
    anchors: Tensor,
    keys: Tensor,
    anchor_ids: Tensor,
    key_ids: Tensor,
    own: Tensor,
    temperature: float,
    variant: str,
) -> tuple[Tensor, Tensor]:
    """(sum of the losses of the anchors with a positive, how many they are)."""
    logits = anchors @ keys.T / temperature
    is_self = torch.zeros_like(logits, dtype=torch.bool)
    is_self[torch.arange(len(anchors), device=logits.device), own] = True
    positive = (anchor_ids[:, None] == key_ids[None, :]) & ~is_self
    count = positive.sum(dim=1)
    valid = count > 0
    lse = torch.logsumexp(logits.masked_fill(is_self, float("-inf")), dim=1)
    if variant == "out":
        pos = logits.masked_fill(~positive, 0.0).sum(dim=1) / count.clamp(min=1)
    else:
        # Rows without a positive get finite dummies, so no NaN reaches their (zero) gradient.
        masked = torch.where(valid[:, None], logits.masked_fill(~positive, float("-inf")), 0.0)
        pos = torch.logsumexp(masked, dim=1) - count.clamp(min=1).to(logits.dtype).log()
    losses = (lse - pos)[valid]
    return losses.sum(), valid.sum().to(losses.dtype)


def _check(
    features: Tensor,
    labels: Tensor | None,
    temperature: float,
    variant: str,
    anchor_mode: str,
    base_temperature: float | None,
) -> tuple[int, int]:
    if features.ndim != 3:
        raise ValueError(f"features must be (N, V, D), got shape {tuple(features.shape)}")
    n, v = features.shape[:2]
    if n * v < 2:
        raise ValueError(f"supcon needs at least 2 views in all (N x V >= 2), got N={n}, V={v}")
    if labels is not None and (labels.shape != (n,) or labels.is_floating_point()):
        raise ValueError(f"labels must be an integer tensor of shape ({n},), got {labels.shape}")
    check_temperature(temperature)
    if variant not in ("out", "in"):
        raise ValueError(f"variant must be 'out' or 'in', got {variant!r}")
    if anchor_mode not in ("all", "one"):
        raise ValueError(f"anchor_mode must be 'all' or 'one', got {anchor_mode!r}")
    if base_temperature is not None and not (
        isinstance(base_temperature, (int, float))
        and math.isfinite(base_temperature)
        and base_temperature > 0
    ):
        raise ValueError(f"base_temperature must be None or a number > 0, got {base_temperature}")
    return n, v


class SupConLoss(nn.Module):
    """`supcon` as a module; it holds only the hyper-parameters."""

    def __init__(
        self,
        temperature: float = 0.1,
        *,
        variant: Variant = "out",
        base_temperature: float | None = None,
        anchor_mode: AnchorMode = "all",
        gather: bool = False,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        check_temperature(temperature)
        check_chunk_size(chunk_size)
        self.temperature, self.variant, self.anchor_mode = temperature, variant, anchor_mode
        self.base_temperature, self.gather, self.chunk_size = base_temperature, gather, chunk_size

    def forward(self, features: Tensor, labels: Tensor | None = None) -> Tensor:
        return supcon(
            features,
            labels,
            self.temperature,
            variant=self.variant,
            base_temperature=self.base_temperature,
            anchor_mode=self.anchor_mode,
            gather=self.gather,
            chunk_size=self.chunk_size,
        )
