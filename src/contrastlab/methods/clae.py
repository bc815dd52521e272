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

The whole of CLAE lives here: `build_clae` wraps ``simclr`` (the paper's SimCLR variant:
L = NT-Xent, the attack's loss is NT-Xent(z_i, z~) with both through the auxiliary BN) or
``moco``. The MoCo variant is our
extension, not in the paper's code: the attack and the adversarial term use InfoNCE(q~, k+, queue)
with the clean key k+ of the other view and the current queue. SimCLR and MoCo only add
``alpha * adversary.loss(method, v1, reference)`` to their loss (`methods.base.ExtraTerm`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from contrastlab.config.schema import ClaeConfig, Recipe
from contrastlab.core.distributed import across_ranks
from contrastlab.losses import info_nce, nt_xent
from contrastlab.methods.moco import MoCo, build_moco
from contrastlab.methods.simclr import SimCLR, build_simclr
from contrastlab.models.dual_bn import AuxBatchNorms

# (views, method, view 1, what its loss contrasted view 1 with) -> the adversarial term
Term = Callable[["AdversarialViews", nn.Module, Tensor, Tensor], Tensor]


class AdversarialViews(nn.Module):
    """CLAE's auxiliary batch norms of an encoder + head, its FGSM step, and its loss term for
    the wrapped method (`simclr_term` or `moco_term`)."""

    def __init__(self, encoder: nn.Module, head: nn.Module, config: ClaeConfig, term: Term) -> None:
        super().__init__()
        self.aux = AuxBatchNorms({"encoder": encoder, "head": head}, config.bn_momentum)
        self.eps = config.eps
        self.alpha = config.alpha
        self.term = term

    def loss(self, method: nn.Module, view: Tensor, reference: Tensor) -> Tensor:
        """The adversarial term of ``method``'s step (see `methods.base.ExtraTerm`)."""
        return self.term(self, method, view, reference)

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


def simclr_term(adv: AdversarialViews, method: nn.Module, v1: Tensor, z_a: Tensor) -> Tensor:
    """NT-Xent(z_1, z_adv), z_adv of an FGSM copy of v1 through the auxiliary BN; the attack
    maximises NT-Xent(z_1, z~) with both through the auxiliary BN (the paper's code)."""
    assert isinstance(method, SimCLR)
    gather = across_ranks()

    def attack_loss(x: Tensor) -> Tensor:
        z_clean, z_x = adv.embed(method.encoder, method.head, torch.cat([v1, x])).chunk(2)
        return nt_xent(z_clean, z_x, method.temperature, gather=gather)

    x_adv = adv.perturb(v1, attack_loss, method.encoder.get_buffer("std"))
    z_adv = adv.embed(method.encoder, method.head, x_adv)
    return nt_xent(z_a, z_adv, method.temperature, gather=gather)


def moco_term(adv: AdversarialViews, method: nn.Module, v1: Tensor, k: Tensor) -> Tensor:
    """InfoNCE(q_adv, k+, queue), q_adv of an FGSM copy of v1 through the auxiliary BN (our
    extension to MoCo)."""
    assert isinstance(method, MoCo)
    queue = method.get_buffer("queue").clone()

    def loss_of(x: Tensor) -> Tensor:
        q = F.normalize(adv.embed(method.encoder, method.head, x), dim=1)
        return info_nce(q, k, queue, method.temperature)

    return loss_of(adv.perturb(v1, loss_of, method.encoder.get_buffer("std")))


def build_clae(recipe: Recipe) -> SimCLR | MoCo:
    """The recipe's ``method.clae.base`` (simclr or moco) with CLAE's adversarial views."""
    config = recipe.method.clae
    method: SimCLR | MoCo
    term: Term
    if config.base == "simclr":
        method, term = build_simclr(recipe), simclr_term
    else:
        method, term = build_moco(recipe), moco_term
    method.adversary = AdversarialViews(method.encoder, method.head, config, term)
    return method
