"""LOOC: views sharing exactly one augmentation with the query, the leave-one-out loss against a
loop over spaces written from the formula, one queue per space, and the representations."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from contrastlab.augment import SimCLRViews
from contrastlab.augment.leave_one_out import ATOMIC_FIELDS, leave_one_out_params
from contrastlab.core.errors import ConfigError
from contrastlab.losses import looc_nce
from contrastlab.methods import LOOC, build_method, method_representation

from .conftest import image_batch, tiny_recipe

RECIPE = "looc_resnet18w0.125_digits_100e"
AUGMENTATIONS = ("color", "rotation", "blur")


def views() -> SimCLRViews:
    recipe = tiny_recipe(RECIPE, augment__blur_p=0.5)
    return SimCLRViews(recipe.augment, 16)


def test_each_key_shares_exactly_its_augmentation_with_the_query() -> None:
    maker, n = views(), 256
    params = leave_one_out_params(
        maker, n, torch.Generator().manual_seed(0), (1000, 1000), AUGMENTATIONS
    )
    query, independent, shared = params[0], params[1], params[2:]
    assert len(shared) == len(AUGMENTATIONS)
    # Replaying the generator: each k_i is the (i + 2)-th draw with augmentation i's fields from q.
    replay = torch.Generator().manual_seed(0)
    draws = [maker.sample(n, replay, (1000, 1000)) for _ in range(2 + len(AUGMENTATIONS))]
    for got, want in zip(params[:2], draws[:2], strict=True):
        assert all(
            torch.equal(a, b)
            for a, b in zip(got.to_dict().values(), want.to_dict().values(), strict=True)
        )
    for augmentation, key, draw in zip(AUGMENTATIONS, shared, draws[2:], strict=True):
        for name, value in key.to_dict().items():
            source = query if name in ATOMIC_FIELDS[augmentation] else draw
            assert torch.equal(value, getattr(source, name)), (augmentation, name)
        # Continuous fields of the other augmentations (and the crop) differ from q's in every row.
        others = ["crop"] + [
            f
            for a in AUGMENTATIONS
            if a != augmentation
            for f in ("factors", "sigma")
            if f in ATOMIC_FIELDS[a]
        ]
        for name in others:
            assert (getattr(key, name) != getattr(query, name)).reshape(n, -1).any(1).all(), (
                augmentation,
                name,
            )
        if augmentation != "rotation":  # rotations agree by chance in about 1 row in 4
            agree = (key.rotation == query.rotation).float().mean()
            assert 0.1 < agree < 0.45
    # k_0 shares nothing: its continuous fields all differ from q's.
    for name in ("crop", "factors", "sigma"):
        assert (getattr(independent, name) != getattr(query, name)).reshape(n, -1).any(1).all()


def reference_looc_loss(q: Tensor, k: Tensor, queues: Tensor, tau: float) -> Tensor:
    """One space and one key at a time, with F.cross_entropy on explicit logit rows."""
    s, n, _ = q.shape
    per_space = []
    for space in range(s):
        losses = []
        for i in range(n):
            if space == 0:
                terms = []
                for j in range(s):
                    logits = torch.cat([(q[0, i] @ k[0, j, i]).view(1), queues[0] @ q[0, i]]) / tau
                    terms.append(
                        F.cross_entropy(logits.view(1, -1), torch.zeros(1, dtype=torch.long))
                    )
                losses.append(torch.stack(terms).mean())
            else:
                others = [k[space, j, i] for j in range(s) if j != space]
                logits = (
                    torch.cat(
                        [
                            (q[space, i] @ k[space, space, i]).view(1),
                            torch.stack([q[space, i] @ o for o in others]),
                            queues[space] @ q[space, i],
                        ]
                    )
                    / tau
                )
                losses.append(F.cross_entropy(logits.view(1, -1), torch.zeros(1, dtype=torch.long)))
        per_space.append(torch.stack(losses).mean())
    return torch.stack(per_space).mean()


def test_loss_matches_the_formula_space_by_space() -> None:
    g = torch.Generator().manual_seed(3)
    s, n, d, k = 3, 5, 7, 11
    q = F.normalize(torch.randn(s, n, d, generator=g, dtype=torch.float64), dim=2)
    keys = F.normalize(torch.randn(s, s, n, d, generator=g, dtype=torch.float64), dim=3)
    queues = F.normalize(torch.randn(s, k, d, generator=g, dtype=torch.float64), dim=2)
    torch.testing.assert_close(
        looc_nce(q, keys, queues, 0.2).double(), reference_looc_loss(q, keys, queues, 0.2)
    )


def test_perfect_keys_give_a_lower_loss_in_their_own_space() -> None:
    """Z_1 puts k_1 on q and k_0 far: low loss; swapping k_0 and k_1 there raises it."""
    q = torch.tensor([[[1.0, 0.0]], [[1.0, 0.0]]])  # (S=2, N=1, D=2)
    aligned = torch.tensor([[[[1.0, 0.0]], [[1.0, 0.0]]], [[[0.0, 1.0]], [[1.0, 0.0]]]])
    swapped = aligned.clone()
    swapped[1] = aligned[1].flip(0)
    queues = torch.tensor([[[0.0, -1.0]], [[0.0, -1.0]]])
    assert looc_nce(q, aligned, queues, 0.5) < looc_nce(q, swapped, queues, 0.5)


def looc(**overrides: object) -> LOOC:
    settings = {"method__moco__queue_size": 16, **overrides}
    method = build_method(tiny_recipe(RECIPE, **settings))
    assert isinstance(method, LOOC)
    return method


def test_each_space_has_its_own_queue_fed_with_its_positive_keys() -> None:
    method = looc()
    captured: list[Tensor] = []
    original = method.key_embeddings

    def spy(v: Tensor, g: torch.Generator) -> Tensor:
        keys = original(v, g)
        captured.append(keys.clone())
        return keys

    method.key_embeddings = spy  # type: ignore[method-assign]
    batch = image_batch(channels=1)
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):  # 3 x 8 keys through a queue of 16: wraps once
        method(batch, generator)
    queues = method.get_buffer("queues")
    assert queues.shape == (3, 16, 8)
    for space in range(3):
        torch.testing.assert_close(queues[space, 8:], captured[1][space, space])
        torch.testing.assert_close(queues[space, :8], captured[2][space, space])
    assert int(method.get_buffer("queue_ptr")) == 8


def test_representations_and_their_widths() -> None:
    method = looc()
    found = method.representations()
    assert list(found) == ["backbone", "looc++", "z_all", "z_color", "z_rotation"]
    images = torch.rand(4, 1, 16, 16)
    feature = method.encoder.feature_dim
    assert found["backbone"](images).shape == (4, feature)
    assert found["looc++"](images).shape == (4, 3 * feature)  # each head's hidden layer
    z = found["z_rotation"](images)
    assert z.shape == (4, 8)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(4))
    with pytest.raises(ConfigError, match="looc\\+\\+"):
        method_representation(method, "z_texture")


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"augment\.rotation_p"):
        tiny_recipe(RECIPE, augment__rotation_p=0.0)
    with pytest.raises(ConfigError, match=r"method\.looc\.augmentations"):
        tiny_recipe(RECIPE, method__looc__augmentations=["color", "texture"])
    with pytest.raises(ConfigError, match=r"method\.moco\.symmetric"):
        tiny_recipe(RECIPE, method__moco__symmetric=True)
