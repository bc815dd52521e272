"""Probe data sets: block shuffle, RandBit, digits on images and multi-object canvases."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

from contrastlab.augment.simclr import SimCLRAugment, SimCLRViews
from contrastlab.core.errors import DataError
from contrastlab.data.probes import (
    RandBitViews,
    append_randbits,
    block_permutation,
    block_shuffle,
    block_shuffle_tensors,
    decode_randbits,
    digit_pool,
    digit_task,
    inverse_permutation,
    multi_object_canvases,
    object_crops,
    object_sides,
    overlay_digits,
    randbit_labels,
    randbit_planes,
)
from contrastlab.data.tensors import ImageTensors

if TYPE_CHECKING:
    from conftest import DataFiles


def tensors(n: int = 6, size: int = 8, channels: int = 3, seed: int = 0) -> ImageTensors:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(
        0, 256, (n, channels, size, size), dtype=torch.uint8, generator=generator
    )
    labels = torch.arange(n) % 2
    meta = {"x": torch.arange(n, dtype=torch.float64)}
    return ImageTensors(images, labels, meta, ["a", "b"], "toy")


def black(n: int, size: int, channels: int = 3) -> ImageTensors:
    images = torch.zeros((n, channels, size, size), dtype=torch.uint8)
    return ImageTensors(images, torch.arange(n) % 2, {}, ["a", "b"], "black")


# --- block shuffle ------------------------------------------------------------------------------


def test_block_equal_to_image_size_is_identity() -> None:
    data = tensors()
    assert block_permutation(8, 8, seed=3).tolist() == [0]
    shuffled = block_shuffle_tensors(data, 8, seed=3)
    assert torch.equal(shuffled.images, data.images)
    assert torch.equal(shuffled.labels, data.labels) and shuffled.classes == data.classes
    assert torch.equal(shuffled.meta["x"], data.meta["x"])


def test_block_shuffle_is_a_bijection_undone_by_the_inverse() -> None:
    images = tensors(n=4).images
    permutation = block_permutation(8, 2, seed=1234)
    assert sorted(permutation.tolist()) == list(range(16))
    assert permutation.tolist() != list(range(16))
    shuffled = block_shuffle(images, 2, permutation)
    assert not torch.equal(shuffled, images)
    assert torch.equal(block_shuffle(shuffled, 2, inverse_permutation(permutation)), images)
    # Pixels are only moved: the multiset of values per image and channel is unchanged.
    assert torch.equal(shuffled.flatten(2).sort().values, images.flatten(2).sort().values)


def test_output_block_q_is_input_block_permutation_q() -> None:
    images = tensors(n=2, size=8).images
    permutation = block_permutation(8, 4, seed=5)
    shuffled = block_shuffle(images, 4, permutation)
    for q, p in enumerate(permutation.tolist()):
        out = shuffled[:, :, 4 * (q // 2) : 4 * (q // 2) + 4, 4 * (q % 2) : 4 * (q % 2) + 4]
        src = images[:, :, 4 * (p // 2) : 4 * (p // 2) + 4, 4 * (p % 2) : 4 * (p % 2) + 4]
        assert torch.equal(out, src)


def test_one_permutation_moves_the_same_pixels_in_every_image() -> None:
    size = 8
    # Image 0 names each position (values 0..63, one channel); image 1 is arbitrary.
    where = torch.arange(size * size, dtype=torch.uint8).reshape(1, 1, size, size)
    other = tensors(n=1, size=size, channels=1).images
    train = ImageTensors(where, torch.zeros(1, dtype=torch.int64), {}, ["a"], "train")
    test = ImageTensors(other, torch.zeros(1, dtype=torch.int64), {}, ["a"], "test")
    moved = block_shuffle_tensors(train, 2, seed=7).images.flatten().long()
    assert not torch.equal(moved, torch.arange(size * size))
    # Same seed on another data set: the pixel at output position t comes from moved[t].
    assert torch.equal(
        block_shuffle_tensors(test, 2, seed=7).images.flatten(), other.flatten()[moved]
    )
    assert not torch.equal(block_permutation(8, 2, seed=7), block_permutation(8, 2, seed=8))


def test_block_size_must_divide_the_image_size() -> None:
    with pytest.raises(
        DataError, match="block size 3 must be a positive divisor of the image size 8"
    ):
        block_permutation(8, 3, seed=0)
    with pytest.raises(DataError, match="divisor"):
        block_shuffle_tensors(tensors(), 5, seed=0)
    with pytest.raises(DataError, match=r"permutation of 0\.\.3"):
        block_shuffle(tensors().images, 4, torch.tensor([0, 0, 1, 2]))


# --- RandBit ------------------------------------------------------------------------------------


def test_randbit_planes_are_the_label_bits_as_constant_planes() -> None:
    indices = torch.arange(20)
    planes = randbit_planes(indices, 6, 5, seed=1)
    labels = randbit_labels(indices, 6, seed=1)
    assert planes.dtype == torch.uint8 and planes.shape == (20, 6, 5, 5)
    assert int(labels.min()) >= 0 and int(labels.max()) < 2**6
    for j in range(6):
        expected = ((labels >> j) & 1) * 255
        assert torch.equal(planes[:, j], expected[:, None, None].expand(-1, 5, 5).to(torch.uint8))
    assert torch.equal(decode_randbits(planes, 6), labels)


def test_randbits_depend_on_the_index_not_the_batch() -> None:
    everything = randbit_planes(torch.arange(50), 10, 4, seed=0)
    batch = torch.tensor([42, 3, 7, 3])
    assert torch.equal(randbit_planes(batch, 10, 4, seed=0), everything[batch])
    labels = randbit_labels(torch.arange(200), 16, seed=0)
    assert len(set(labels.tolist())) >= 195  # distinct indices: distinct bits, mostly
    other = randbit_labels(torch.arange(200), 16, seed=1)
    assert int((labels != other).sum()) >= 195
    assert randbit_labels([5], 0, seed=0).tolist() == [0]


def test_randbit_views_append_identical_untouched_bits_after_augmentation() -> None:
    n_bits = 5
    probe = append_randbits(tensors(n=8, size=12), n_bits, seed=3)
    assert probe.data.images.shape == (8, 3 + n_bits, 12, 12)
    assert torch.equal(probe.data.images[:, :3], tensors(n=8, size=12).images)
    inner = SimCLRViews(SimCLRAugment(crop_scale=(0.2, 0.6)), image_size=6)
    views = RandBitViews(inner, n_bits)
    generator = torch.Generator().manual_seed(0)
    first = views(probe.data.images, generator)
    second = views(probe.data.images, generator)
    assert isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor)
    assert first.shape == second.shape == (8, 3 + n_bits, 6, 6)
    assert not torch.equal(first[:, :3], second[:, :3])  # the images were augmented differently
    bits_a, bits_b = first[:, 3:], second[:, 3:]
    assert torch.equal(bits_a, bits_b)
    assert torch.equal(bits_a, bits_a[:, :, :1, :1].expand_as(bits_a))  # exactly constant planes
    assert set(bits_a.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(decode_randbits(first, n_bits), probe.bit_labels)
    # The image channels are exactly the wrapped maker's views, from the same generator draws.
    replay = torch.Generator().manual_seed(0)
    assert torch.equal(first[:, :3], inner(probe.data.images[:, :3], replay))


def test_randbit_views_wrap_makers_returning_several_views_and_keep_bits_through_subsets() -> None:
    probe = append_randbits(tensors(n=6), 4, seed=0)
    subset = probe.data.select(torch.tensor([5, 1]))
    assert torch.equal(decode_randbits(subset.images, 4), probe.bit_labels[[5, 1]])
    assert subset.meta["randbit"].tolist() == probe.bit_labels[[5, 1]].double().tolist()

    def two_views(images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        return images[:, :, :4, :4], images[:, :, 4:, 4:]

    views = RandBitViews(two_views, 4)(subset.images, torch.Generator())
    assert isinstance(views, tuple) and len(views) == 2
    for view in views:
        assert view.dtype == torch.uint8 and view.shape == (2, 7, 4, 4)
        assert torch.equal(decode_randbits(view, 4), probe.bit_labels[[5, 1]])
    assert set(views[0][:, 3:].unique().tolist()) <= {0, 255}


def test_randbit_errors() -> None:
    with pytest.raises(DataError, match=r"n_bits must be in 0\.\.63, got 64"):
        randbit_labels([0], 64, seed=0)
    noisy = tensors(n=2, channels=3).images  # the last channel is not a constant plane
    with pytest.raises(DataError, match="not constant bit planes"):
        RandBitViews(lambda x, g: x, 1)(noisy, torch.Generator())
    with pytest.raises(DataError, match="non-negative"):
        randbit_labels([-1], 3, seed=0)


# --- digits on images ---------------------------------------------------------------------------


def test_digit_overlay_keeps_both_labels_and_max_merges_at_the_grid() -> None:
    data = tensors(n=10, size=32)
    pool = digit_pool(5)
    assert pool.images.shape == (5, 1, 8, 8) and len(pool) == 5
    overlay = overlay_digits(data, pool, digit_size=8, seed=0)
    assert overlay.corners.tolist() == [[r, c] for r in (5, 14, 24) for c in (5, 14, 24)]
    out = overlay.data.images
    assert torch.equal(overlay.data.labels, data.labels) and overlay.data.classes == ["a", "b"]
    assert torch.equal(overlay.digit_labels, pool.labels[overlay.digit_ids])
    assert overlay.data.meta["digit_label"].tolist() == overlay.digit_labels.double().tolist()
    assert torch.equal(digit_task(overlay).labels, overlay.digit_labels)
    assert bool((out >= data.images).all())
    covered = torch.zeros(32, 32, dtype=torch.bool)
    for row, col in overlay.corners.tolist():
        window = out[:, :, row : row + 8, col : col + 8]
        digits = pool.images[overlay.digit_ids].expand(-1, 3, -1, -1)
        assert torch.equal(
            window, torch.maximum(data.images[:, :, row : row + 8, col : col + 8], digits)
        )
        covered[row : row + 8, col : col + 8] = True
    assert torch.equal(out[:, :, ~covered], data.images[:, :, ~covered])  # untouched elsewhere


def test_digit_pool_size_limits_the_distinct_digit_images() -> None:
    canvas = black(60, 16)
    overlay = overlay_digits(canvas, digit_pool(3), digit_size=4, seed=1)
    assert set(overlay.digit_ids.tolist()) == {0, 1, 2}
    assert len(torch.unique(overlay.data.images, dim=0)) == 3
    # The choice depends on the image index only.
    head = overlay_digits(black(10, 16), digit_pool(3), digit_size=4, seed=1)
    assert torch.equal(head.digit_ids, overlay.digit_ids[:10])
    assert torch.equal(head.data.images, overlay.data.images[:10])


def test_digit_pool_from_an_idx_file(files: DataFiles) -> None:
    images = files.rng.integers(0, 256, size=(4, 6, 6), dtype=np.uint8)
    path = files.idx("mnist/train-images-idx3-ubyte", images)
    files.idx("mnist/train-labels-idx1-ubyte", np.array([3, 1, 4, 1], dtype=np.uint8))
    pool = digit_pool(3, path)
    assert pool.labels.tolist() == [3, 1, 4]
    assert torch.equal(pool.images[:, 0], torch.from_numpy(images[:3]))
    with pytest.raises(DataError, match="pool size 5 exceeds the 4 digits"):
        digit_pool(5, path)


def test_digit_overlay_errors() -> None:
    with pytest.raises(DataError, match="does not fit"):
        overlay_digits(black(2, 16), digit_pool(2), digit_size=8, seed=0)
    with pytest.raises(DataError, match="at least 1"):
        digit_pool(0)


# --- multi-object canvases ----------------------------------------------------------------------


def solid_objects(size: int = 8) -> ImageTensors:
    """Three classes of solid squares; class c has value 60 * (c + 1), so pixels name classes."""
    values = torch.tensor([60, 120, 180], dtype=torch.uint8)
    images = values[:, None, None, None].expand(-1, 1, size, size).clone()
    return ImageTensors(images, torch.arange(3), {}, ["p", "q", "r"], "solid")


def test_canvases_hold_k_objects_with_their_labels_in_their_boxes() -> None:
    canvases = multi_object_canvases(
        12, k=3, image_size=32, object_size=6, size_ratio=2.0, seed=0, objects=solid_objects()
    )
    images, boxes, labels = canvases.data.images, canvases.boxes, canvases.object_labels
    assert images.shape == (12, 1, 32, 32) and labels.shape == (12, 3) and boxes.shape == (12, 3, 4)
    assert torch.equal(canvases.data.labels, labels[:, 0])
    assert canvases.data.meta["object2"].tolist() == labels[:, 2].double().tolist()
    for i in range(12):
        covered = torch.zeros(32, 32, dtype=torch.bool)
        for j in range(3):
            top, left, bottom, right = boxes[i, j].tolist()
            assert not covered[top:bottom, left:right].any()  # boxes do not overlap
            covered[top:bottom, left:right] = True
            value = 60 * (int(labels[i, j]) + 1)
            assert bool((images[i, 0, top:bottom, left:right] == value).all())
        assert bool((images[i, 0][~covered] == 0).all())  # nothing outside the objects


def test_size_ratio_sets_the_dominant_object_side() -> None:
    assert object_sides(3, 5, 2.4) == [12, 5, 5]
    for ratio in (0.5, 1.0, 3.0):
        canvases = multi_object_canvases(
            4, k=2, image_size=40, object_size=6, size_ratio=ratio, seed=1, objects=solid_objects()
        )
        sides = canvases.boxes[:, :, 2] - canvases.boxes[:, :, 0]
        assert sides[:, 0].tolist() == [round(6 * ratio)] * 4 and sides[:, 1].tolist() == [6] * 4
        # The objects fill their boxes and nothing else (checked in the test above), so the drawn
        # area is exactly the dominant side squared plus the other side squared.
        area = (canvases.data.images != 0).flatten(1).sum(dim=1)
        assert area.tolist() == [round(6 * ratio) ** 2 + 36] * 4


def test_shape_canvases_are_deterministic_per_index() -> None:
    small = multi_object_canvases(2, k=2, image_size=24, object_size=8, seed=4)
    large = multi_object_canvases(4, k=2, image_size=24, object_size=8, seed=4)
    assert small.data.images.shape == (2, 3, 24, 24) and small.data.classes[0] == "circle"
    assert torch.equal(small.data.images, large.data.images[:2])
    assert torch.equal(small.object_labels, large.object_labels[:2])
    for i in range(2):
        for j in range(2):
            top, left, bottom, right = small.boxes[i, j].tolist()
            assert int(small.data.images[i, :, top:bottom, left:right].sum()) > 0


def test_object_centric_crops_contain_their_object() -> None:
    canvases = multi_object_canvases(
        5, k=3, image_size=32, object_size=6, seed=2, objects=solid_objects()
    )
    exact = object_crops(canvases, size=6)
    assert exact.images.shape == (15, 1, 6, 6)
    assert torch.equal(exact.labels, canvases.object_labels.reshape(-1))
    values = (60 * (exact.labels + 1)).to(torch.uint8)
    assert torch.equal(exact.images, values[:, None, None, None].expand(-1, 1, 6, 6))
    wide = object_crops(canvases, size=12, margin=0.5)
    for row in range(15):
        i, j = divmod(row, 3)
        assert wide.meta["canvas"][row] == i and wide.meta["slot"][row] == j
        top, left, bottom, right = canvases.boxes[i, j].tolist()
        crop_top, crop_left = int(wide.meta["crop_top"][row]), int(wide.meta["crop_left"][row])
        side = int(wide.meta["crop_side"][row])
        assert side == 12  # 6 + 2 * 3 pixels: no resizing needed
        assert crop_top <= top and bottom <= crop_top + side
        assert crop_left <= left and right <= crop_left + side
        inner = wide.images[
            row, 0, top - crop_top : bottom - crop_top, left - crop_left : right - crop_left
        ]
        assert bool((inner == values[row]).all())


def test_multi_object_errors() -> None:
    with pytest.raises(DataError, match="cannot place objects"):
        multi_object_canvases(1, k=5, image_size=32, object_size=16, seed=0)
    with pytest.raises(DataError, match="must not exceed the image size"):
        multi_object_canvases(1, k=2, image_size=16, object_size=8, size_ratio=3.0)
