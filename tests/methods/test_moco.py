"""MoCo: the queue holds exactly the last keys in order, the key encoder is the momentum average
of the query encoder computed by hand, split-BN and the key shuffle behave as in MoCo's code."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor, nn

from contrastlab.core.distributed import shuffle_batch, unshuffle_batch
from contrastlab.core.errors import ConfigError
from contrastlab.losses import info_nce
from contrastlab.methods import MoCo, build_method
from contrastlab.models.split_bn import SplitBatchNorm, convert_split_bn

from .conftest import image_batch, tiny_recipe

RECIPE = "moco_resnet18w0.125_shapes_16e"


def moco(**overrides: object) -> MoCo:
    settings = {"method__moco__queue_size": 32, "method__moco__bn_splits": 2, **overrides}
    method = build_method(tiny_recipe(RECIPE, **settings))
    assert isinstance(method, MoCo)
    return method


def run_steps(method: MoCo, steps: int) -> tuple[list[Tensor], list[list[Tensor]], list[int]]:
    """Train ``steps`` SGD steps; record the keys each step enqueued, the query parameters before
    each step, and the queue pointer before each step."""
    enqueued: list[Tensor] = []
    original = method.enqueue

    def spy(keys: Tensor) -> None:
        enqueued.append(keys.clone())
        original(keys)

    method.enqueue = spy  # type: ignore[method-assign]
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.5)
    generator = torch.Generator().manual_seed(0)
    queries: list[list[Tensor]] = []
    pointers: list[int] = []
    for step in range(steps):
        queries.append([p.detach().clone() for p in method.query_parameters()])
        pointers.append(int(method.get_buffer("queue_ptr")))
        loss, _ = method(image_batch(seed=step), generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return enqueued, queries, pointers


@pytest.mark.parametrize("symmetric", [False, True])
def test_queue_holds_the_last_keys_in_order(symmetric: bool) -> None:
    method = moco(method__moco__symmetric=symmetric, method__moco__queue_size=48)
    initial = method.get_buffer("queue").clone()
    per_step = 8 * (2 if symmetric else 1)
    steps = 48 // per_step + 2  # wraps around the ring
    enqueued, _, pointers = run_steps(method, steps)
    assert all(len(keys) == per_step for keys in enqueued)
    assert pointers == [(s * per_step) % 48 for s in range(steps)]
    # Oldest to newest, starting at the pointer: exactly the keys of the last 48 // per_step steps.
    queue, ptr = method.get_buffer("queue"), int(method.get_buffer("queue_ptr"))
    in_order = torch.cat([queue[ptr:], queue[:ptr]])
    torch.testing.assert_close(in_order, torch.cat(enqueued[-(48 // per_step) :]), rtol=0, atol=0)
    assert not torch.equal(queue, initial)
    # Keys are unit vectors and carry no gradient.
    torch.testing.assert_close(queue.norm(dim=1), torch.ones(48))
    assert not any(k.requires_grad for k in enqueued)


def test_key_encoder_is_the_momentum_average_by_hand() -> None:
    m = 0.9
    method = moco(method__moco__momentum=m)
    by_hand = [p.detach().clone() for p in method.query_parameters()]  # theta_k starts = theta_q
    _, queries, _ = run_steps(method, 4)
    for before in queries:  # the update uses theta_q as it was before the step's own update
        by_hand = [m * k + (1 - m) * q for k, q in zip(by_hand, before, strict=True)]
    for key, expected in zip(method.key_parameters(), by_hand, strict=True):
        torch.testing.assert_close(key, expected, rtol=1e-5, atol=1e-6)
    # ... and it differs from the query encoder, which the optimiser moved.
    assert not all(
        torch.equal(k, q)
        for k, q in zip(method.key_parameters(), method.query_parameters(), strict=True)
    )
    assert not any(p.requires_grad for p in method.key_parameters())


def test_loss_is_infonce_against_the_queue_before_the_update() -> None:
    method = moco(
        method__moco__shuffle_bn=False, method__moco__bn_splits=1, method__moco__symmetric=False
    )
    method.eval()  # deterministic BN for the check
    queue = method.get_buffer("queue").clone()
    reference = copy.deepcopy(method)
    state = torch.Generator().manual_seed(3).get_state()
    batch = image_batch()
    loss, _ = method(batch, torch.Generator().set_state(state))
    g = torch.Generator().set_state(state)
    v1, v2 = reference.views(batch["image"], g), reference.views(batch["image"], g)
    reference.momentum_update()
    q = nn.functional.normalize(reference.head(reference.encoder(v1)), dim=1)
    k = nn.functional.normalize(reference.key_head(reference.key_encoder(v2)), dim=1)
    expected = info_nce(q, k, queue, 0.2)
    torch.testing.assert_close(loss, expected)
    logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.T], 1) / 0.2
    ce = nn.functional.cross_entropy(logits, torch.zeros(8, dtype=torch.long))
    torch.testing.assert_close(loss, ce, rtol=1e-5, atol=1e-6)


def test_split_bn_normalises_each_group_apart() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 3, 4, 4, generator=g) * 3 + 1
    split = SplitBatchNorm(3, splits=2)
    out = split(x)
    for group in range(2):
        plain = nn.BatchNorm2d(3)
        torch.testing.assert_close(out[group::2], plain(x[group::2]), rtol=1e-5, atol=1e-5)
    # Running statistics: the mean over groups of what each group's BN would have tracked.
    tracked = []
    for group in range(2):
        plain = nn.BatchNorm2d(3)
        plain(x[group::2])
        tracked.append(plain.running_mean)
    torch.testing.assert_close(split.running_mean, torch.stack(tracked).mean(0))
    split.eval()
    reference = nn.BatchNorm2d(3)
    reference.load_state_dict(split.state_dict())
    reference.eval()
    torch.testing.assert_close(split(x), reference(x))


def test_convert_split_bn_keeps_the_state_dict() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.BatchNorm2d(4)))
    keys = set(model.state_dict())
    convert_split_bn(model, 4)
    assert set(model.state_dict()) == keys
    assert sum(isinstance(m, SplitBatchNorm) for m in model.modules()) == 2


def test_shuffle_then_unshuffle_is_the_identity_in_one_process() -> None:
    x = torch.arange(10.0).unsqueeze(1)
    shuffled, inverse = shuffle_batch(x, torch.Generator().manual_seed(0))
    assert not torch.equal(shuffled, x)
    assert sorted(shuffled.squeeze(1).tolist()) == x.squeeze(1).tolist()
    torch.testing.assert_close(unshuffle_batch(shuffled * 2, inverse), x * 2)


def test_queue_must_take_whole_batches() -> None:
    with pytest.raises(ConfigError, match=r"method\.moco\.queue_size"):
        tiny_recipe(RECIPE, method__moco__queue_size=20)  # symmetric: 16 keys per step
    with pytest.raises(ConfigError, match=r"method\.moco\.bn_splits"):
        tiny_recipe(RECIPE, method__moco__bn_splits=3)


def test_queue_is_in_the_checkpointed_state() -> None:
    state = moco().state_dict()
    assert {"queue", "queue_ptr"} <= set(state)
    assert any(key.startswith("key_encoder.") for key in state)
