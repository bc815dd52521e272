"""CLAE (Ho & Vasconcelos, "Contrastive Learning with Adversarial Examples", NeurIPS 2020).

Per step, for the first view x_i of each image: one FGSM step on a copy of x_i against the batch
contrastive loss, computed through auxiliary batch norms (every BN duplicated, convolution and
linear weights shared; AdvProp style, momentum 0.01): x_adv = x_i + eps * sign(grad), with eps in
normalised input units (so eps x the channel's std in [0, 1] pixel units), no random start and no
clamp. The training loss is then

    L = L(z_i, z_j) + alpha * L(z_i, z_adv)

with z_i, z_j the clean views through the main BN and z_adv through the auxiliary BN. The attack
takes its gradient with `torch.autograd.grad` on the input only, so no parameter gradient comes
from it, and the main BN never sees the attack or the adversarial view.

`build_clae` wraps ``simclr`` (the paper's SimCLR variant: L = NT-Xent, the attack's loss is
NT-Xent(z_i, z~) with both through the auxiliary BN) or ``moco``. The MoCo variant is our
extension, not in the paper's code: the attack and the adversarial term use InfoNCE(q~, k+, queue)
with the clean key k+ of the other view and the current queue.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from contrastlab.config.schema import ClaeConfig, Recipe
from contrastlab.methods.moco import MoCo, build_moco
from contrastlab.methods.simclr import SimCLR, build_simclr
from contrastlab.models.dual_bn import AuxBatchNorms


class AdversarialViews(nn.Module):
    """CLAE's auxiliary batch norms of an encoder + head, and its FGSM step."""

    def __init__(self, encoder: nn.Module, head: nn.Module, config: ClaeConfig) -> None:
        super().__init__()
        self.aux = AuxBatchNorms({"encoder": encoder, "head": head}, config.bn_momentum)
        self.eps = config.eps
        self.alpha = config.alpha

    def embed(self, encoder: nn.Module, head: nn.Module, images: Tensor) -> Tensor:
        """``head(encoder(images))`` through the auxiliary batch norms."""
        with self.aux.active({"encoder": encoder, "head": head}):
            out: Tensor = head(encoder(images))
        return out

    def perturb(self, images: Tensor, loss_of: Callable[[Tensor], Tensor], std: Tensor) -> Tensor:
        """One FGSM step: ``images + eps * std * sign(d loss_of(images) / d images)``, detached.

        ``std`` is the encoder's normalisation std, (1, C, 1, 1): a step of eps in normalised
        units. Only the input's gradient is computed; parameters get none.
        """
        start = images.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(loss_of(start), start)
        return (start + self.eps * std * grad.sign()).detach()


def build_clae(recipe: Recipe) -> SimCLR | MoCo:
    """The recipe's ``method.clae.base`` (simclr or moco) with CLAE's adversarial views."""
    config = recipe.method.clae
    method: SimCLR | MoCo = build_simclr(recipe) if config.base == "simclr" else build_moco(recipe)
    method.adversary = AdversarialViews(method.encoder, method.head, config)
    return method
