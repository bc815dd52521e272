"""CLAE: alpha = 0 is SimCLR step for step, the FGSM step raises the loss it attacks by an
eps-sized move in normalised units, and the main batch norms never see the attack."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from contrastlab.losses import nt_xent
from contrastlab.methods import AdversarialViews, MoCo, SimCLR, build_method

from .conftest import image_batch, tiny_recipe

RECIPE = "clae_resnet18w0.125_shapes_16e"


def clae(**overrides: object) -> SimCLR:
    method = build_method(tiny_recipe(RECIPE, **overrides))
    assert isinstance(method, SimCLR) and method.adversary is not None
    return method


def simclr() -> SimCLR:
    method = build_method(tiny_recipe(RECIPE, method__name="simclr"))
    assert isinstance(method, SimCLR) and method.adversary is None
    return method


def main_bn_state(method: nn.Module) -> dict[str, Tensor]:
    """Running statistics of the encoder's and head's own batch norms."""
    return {
        key: value.clone()
        for key, value in method.state_dict().items()
        if key.startswith(("encoder.", "head.")) and "running" in key
    }


def train(method: nn.Module, steps: int) -> list[list[Tensor]]:
    """SGD steps on fixed batches; the encoder + head parameters after each step."""
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    trajectory = []
    for step in range(steps):
        loss, _ = method(image_batch(seed=step), generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        trajectory.append(
            [p.detach().clone() for p in [*method.encoder.parameters(), *method.head.parameters()]]
        )
    return trajectory


def test_alpha_zero_follows_simclr_exactly() -> None:
    adversarial, plain = clae(method__clae__alpha=0.0), simclr()
    for after_a, after_b in zip(train(adversarial, 3), train(plain, 3), strict=True):
        for a, b in zip(after_a, after_b, strict=True):
            assert torch.equal(a, b)
    assert main_bn_state(adversarial).keys() == main_bn_state(plain).keys()
    for key, value in main_bn_state(adversarial).items():
        assert torch.equal(value, main_bn_state(plain)[key]), key


def test_main_batchnorm_statistics_untouched_by_the_attack() -> None:
    """With alpha = 1 the first step's main-BN statistics are SimCLR's: only the clean views
    went through them. The auxiliary statistics moved (the attack and adversarial passes)."""
    adversarial, plain = clae(), simclr()
    aux_before = {k: v.clone() for k, v in adversarial.adversary.state_dict().items()}
    generator_a, generator_b = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    adversarial(image_batch(), generator_a)
    plain(image_batch(), generator_b)
    for key, value in main_bn_state(adversarial).items():
        assert torch.equal(value, main_bn_state(plain)[key]), key
    aux_after = adversarial.adversary.state_dict()
    tracked = [k for k in aux_after if k.endswith("num_batches_tracked")]
    assert tracked and all(int(aux_after[k]) == 2 for k in tracked)  # attack + adversarial pass
    moved = [k for k in aux_after if "running_mean" in k]
    assert all(not torch.equal(aux_before[k], aux_after[k]) for k in moved)


def test_attack_leaves_no_parameter_gradient() -> None:
    method = clae()
    views = torch.rand(8, 3, 16, 16)
    adv = method.adversary
    assert adv is not None

    def loss_of(x: Tensor) -> Tensor:
        z_a, z_b = adv.embed(method.encoder, method.head, torch.cat([views, x])).chunk(2)
        return nt_xent(z_a, z_b, 0.2)

    adv.perturb(views, loss_of, method.encoder.get_buffer("std"))
    assert all(p.grad is None for p in method.parameters())


def attack_setup(eps: float) -> tuple[SimCLR, AdversarialViews, Tensor, object]:
    method = clae(method__clae__eps=eps)
    method.eval()  # fixed BN statistics: the loss is a function of the inputs alone
    adv = method.adversary
    assert adv is not None
    views = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(1))

    def loss_of(x: Tensor) -> Tensor:
        z_a, z_b = adv.embed(method.encoder, method.head, torch.cat([views, x])).chunk(2)
        return nt_xent(z_a, z_b, 0.2)

    return method, adv, views, loss_of


@pytest.mark.parametrize("eps", [0.01, 0.03])
def test_fgsm_step_raises_the_batch_loss_by_an_eps_step(eps: float) -> None:
    method, adv, views, loss_of = attack_setup(eps)
    std = method.encoder.get_buffer("std")
    x_adv = adv.perturb(views, loss_of, std)  # type: ignore[arg-type]
    with torch.no_grad():
        clean, attacked = loss_of(views), loss_of(x_adv)  # type: ignore[operator]
    assert attacked > clean
    # Each pixel moved by exactly eps in normalised units (eps x std in pixel units), no clamp.
    step = ((x_adv - views) / std).abs()
    moved = step > 0
    assert moved.float().mean() > 0.9
    torch.testing.assert_close(step[moved], torch.full_like(step[moved], eps))


def test_fgsm_loss_increase_grows_about_linearly_at_small_eps() -> None:
    increases = []
    for eps in (0.001, 0.002):
        _, adv, views, loss_of = attack_setup(eps)
        x_adv = adv.perturb(views, loss_of, torch.full((1, 3, 1, 1), 0.25))  # type: ignore[arg-type]
        with torch.no_grad():
            increases.append(float(loss_of(x_adv) - loss_of(views)))  # type: ignore[operator]
    assert increases[0] > 0
    assert 1.6 < increases[1] / increases[0] < 2.4


def test_moco_variant_trains_and_keeps_main_bn_statistics() -> None:
    recipe = tiny_recipe(
        RECIPE,
        method__clae__base="moco",
        method__moco__queue_size=32,
        method__moco__bn_splits=2,
    )
    method = build_method(recipe)
    plain = build_method(
        tiny_recipe(
            RECIPE, method__name="moco", method__moco__queue_size=32, method__moco__bn_splits=2
        )
    )
    assert isinstance(method, MoCo) and method.adversary is not None
    loss, metrics = method(image_batch(), torch.Generator().manual_seed(0))
    plain(image_batch(), torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and float(metrics["adv_loss"]) > 0
    for key, value in main_bn_state(method).items():
        assert torch.equal(value, main_bn_state(plain)[key]), key
    assert torch.equal(method.get_buffer("queue"), plain.get_buffer("queue"))
