"""Few-label fine-tuning: the stratified labelled subset, training a copy, determinism, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from contrastlab.config.schema import DataConfig, ModelConfig
from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate import extract_features
from contrastlab.evaluate.finetune import FinetuneResult, _top_k, finetune, labelled_subset
from contrastlab.models import Encoder, build_encoder


def small_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, stride=2),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


def tiny_resnet() -> Encoder:
    torch.manual_seed(0)
    return build_encoder(ModelConfig(width=0.0625), DataConfig(image_size=16))


def lit_halves(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """16x16 images in four classes: the red or the green channel is bright in the top or the
    bottom half (both survive crops of half the area and horizontal flips)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 4
    images = torch.randint(0, 60, (n, 3, 16, 16), generator=g, dtype=torch.uint8)
    for i, label in enumerate(labels.tolist()):
        channel, bottom = divmod(label, 2)
        images[i, channel, bottom * 8 : (bottom + 1) * 8] += 150
    return images, labels


TRAIN, TEST = lit_halves(400, 0), lit_halves(200, 1)


def run(encoder: nn.Module | None = None, **kwargs: object) -> FinetuneResult:
    """``finetune`` on the lit-halves task: 10% of 400 labels, 5 epochs of 3 batches."""
    settings: dict[str, object] = {"num_classes": 4, "fraction": 0.1, "epochs": 5, "batch_size": 16}
    settings.update(kwargs)
    net = small_net() if encoder is None else encoder
    return finetune(net, *TRAIN, *TEST, **settings)  # type: ignore[arg-type]


# --- labelled_subset ------------------------------------------------------------------------


def test_subset_sizes_for_one_and_ten_percent_are_balanced() -> None:
    labels = np.arange(1000) % 10
    for fraction, per_class in ((0.01, 1), (0.1, 10)):
        rows = labelled_subset(labels, fraction, seed=0)
        assert len(rows) == 10 * per_class
        assert np.bincount(labels[rows]).tolist() == [per_class] * 10


def test_subset_is_sorted_unique_int64_indices_and_fraction_one_keeps_all() -> None:
    labels = np.arange(50) % 3
    rows = labelled_subset(labels, 0.4, seed=3)
    assert rows.dtype == np.int64
    assert rows.tolist() == sorted(set(rows.tolist()))
    assert rows.min() >= 0 and rows.max() < 50
    assert labelled_subset(labels, 1.0, seed=3).tolist() == list(range(50))


def test_subset_shares_are_proportional_with_largest_remainder_rounding() -> None:
    labels = np.repeat([0, 1, 2, 3], [500, 300, 150, 50])
    assert np.bincount(labels[labelled_subset(labels, 0.1, seed=0)]).tolist() == [50, 30, 15, 5]
    # 10 labels: shares 5, 3, 1.5, 0.5 -> 5, 3, 2, 0 (ties to the smaller class), then class 3
    # takes its one label from class 2, the class most above its share.
    assert np.bincount(labels[labelled_subset(labels, 0.01, seed=0)]).tolist() == [5, 3, 1, 1]


def test_subset_keeps_at_least_one_label_per_class() -> None:
    labels = np.concatenate([np.zeros(190, dtype=np.int64), np.arange(1, 11)])  # 10 singletons
    rows = labelled_subset(labels, 0.01, seed=0)
    assert len(rows) == 11  # round(0.01 * 200) = 2 < 11 classes
    assert np.bincount(labels[rows]).tolist() == [1] * 11
    rows = labelled_subset(labels, 0.1, seed=0)
    assert len(rows) == 20
    assert np.bincount(labels[rows]).tolist() == [10] + [1] * 10


def test_subset_is_deterministic_per_seed_and_accepts_tensors() -> None:
    labels = np.arange(1000) % 10
    first = labelled_subset(labels, 0.1, seed=7)
    assert np.array_equal(first, labelled_subset(labels, 0.1, seed=7))
    assert np.array_equal(first, labelled_subset(torch.from_numpy(labels), 0.1, seed=7))
    assert not np.array_equal(first, labelled_subset(labels, 0.1, seed=8))


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5, math.nan, True, "0.1"])
def test_subset_rejects_fractions_outside_zero_one(fraction: object) -> None:
    with pytest.raises(ContrastlabError, match=r"^fraction must be a number in \(0, 1\], got "):
        labelled_subset(np.arange(10) % 2, fraction, seed=0)  # type: ignore[arg-type]


def test_subset_rejects_unlabelled_samples() -> None:
    with pytest.raises(ContrastlabError, match="1 of 4 training samples have no label"):
        labelled_subset(np.array([0, 1, -1, 1]), 0.5, seed=0)


# --- finetune -------------------------------------------------------------------------------


def test_fine_tuning_learns_an_easy_task_from_ten_percent_of_the_labels() -> None:
    net = tiny_resnet()
    untrained = nn.Sequential(net, nn.Linear(net.feature_dim, 4))  # seeded by tiny_resnet
    predicted = extract_features(untrained, TEST[0]).argmax(dim=1)
    untrained_top1 = float((predicted == TEST[1]).float().mean())

    one_epoch = run(tiny_resnet(), epochs=1)
    result = run(tiny_resnet(), epochs=20)
    assert result.top1 >= 0.9
    assert result.top1 > untrained_top1 + 0.3
    assert result.top5 == 1.0  # 4 classes: top-4
    assert one_epoch.final_loss > math.log(4) - 0.2  # about chance after one epoch
    assert result.final_loss < 0.1
    assert (result.n_labelled, result.fraction, result.epochs, result.steps) == (40, 0.1, 20, 60)


def test_the_callers_encoder_is_not_modified() -> None:
    net = small_net()
    net[0].weight.requires_grad_(False)  # frozen by the caller: trained in the copy only
    net.eval()
    before = {key: value.clone() for key, value in net.state_dict().items()}
    result = run(net, epochs=3)
    assert result.final_loss < math.log(4)
    after = net.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)  # BN statistics too
    assert not net.training and not net[0].weight.requires_grad and net[1].weight.requires_grad


def test_same_seed_same_result_and_the_global_rng_is_untouched() -> None:
    state = torch.get_rng_state()
    first, second = run(seed=3).as_dict(), run(seed=3).as_dict()
    assert torch.equal(state, torch.get_rng_state())
    del first["seconds"], second["seconds"]
    assert first == second
    other = run(seed=4).as_dict()
    assert other["final_loss"] != first["final_loss"]


def test_only_the_labelled_subset_is_seen() -> None:
    images, labels = TRAIN
    rows = torch.from_numpy(labelled_subset(labels, 0.1, seed=0))
    scrambled = torch.randint(0, 256, images.shape, dtype=torch.uint8)
    scrambled[rows] = images[rows]
    base = run(small_net(), seed=0)
    other = finetune(
        small_net(), scrambled, labels, *TEST, num_classes=4, fraction=0.1, epochs=5, batch_size=16
    )
    assert (base.top1, base.final_loss) == (other.top1, other.final_loss)


def test_augmentation_changes_training_but_not_the_protocol() -> None:
    plain = run(tiny_resnet(), augment=False, epochs=20)
    augmented = run(tiny_resnet(), augment=True, epochs=20)
    assert plain.final_loss != augmented.final_loss
    assert plain.steps == augmented.steps == 60
    assert plain.top1 >= 0.9 and augmented.top1 >= 0.9


def test_batches_are_near_equal_and_channels_last_changes_only_the_last_bits() -> None:
    result = run(batch_size=64)  # 40 labelled images: one batch of 40 per epoch
    assert result.steps == 5
    same = run(batch_size=64, channels_last=True)  # honoured on the CPU too (train.channels_last)
    assert same.top1 == result.top1
    assert same.final_loss == pytest.approx(result.final_loss, rel=1e-4)
    assert run(batch_size=13).steps == 5 * 4  # 40 = 10 + 10 + 10 + 10


def test_top_k_clips_k_to_the_classes_and_ties_rank_the_smaller_class_first() -> None:
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], [5.0, 4, 3, 2, 1, 0, -1]])
    assert _top_k(logits, torch.tensor([6, 6])) == (0.5, 0.5)
    assert _top_k(logits, torch.tensor([1, 4])) == (0.0, 1.0)  # ties: classes 0..3 first
    assert _top_k(logits[:, :3], torch.tensor([2, 2])) == (0.0, 1.0)  # top-3 of 3 classes


def test_top5_is_one_with_at_most_five_classes_even_untrained() -> None:
    result = run(num_classes=5, epochs=1, lr=1e-9)  # class 4 never occurs; top-5 of 5
    assert result.top1 < 0.9
    assert result.top5 == 1.0


def test_progress_bar_shows_the_loss_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    run(epochs=2, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "fine-tuning" in captured.err and "loss=" in captured.err and "2/2" in captured.err


def test_as_dict_keys_and_prefix() -> None:
    result = FinetuneResult(
        top1=0.5,
        top5=0.9,
        fraction=0.01,
        n_labelled=12,
        epochs=3,
        steps=6,
        final_loss=0.7,
        seconds=1.5,
    )
    assert result.as_dict("ft1_") == {
        "ft1_top1": 0.5,
        "ft1_top5": 0.9,
        "ft1_fraction": 0.01,
        "ft1_n_labelled": 12,
        "ft1_epochs": 3,
        "ft1_steps": 6,
        "ft1_final_loss": 0.7,
        "ft1_seconds": 1.5,
    }


def test_divergence_is_a_user_facing_error() -> None:
    with pytest.raises(ContrastlabError, match=r"^fine-tuning diverged: the training loss is "):
        run(lr=1e6)


class MustNotRun(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise AssertionError("inputs must be checked before any work")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fraction": 0.0}, r"^fraction must be a number in \(0, 1\], got 0.0$"),
        ({"num_classes": 0}, "^num_classes must be at least 1, got 0$"),
        ({"num_classes": 2}, r"^num_classes=2 does not cover the training labels \(largest"),
        ({"epochs": 0}, "^epochs must be at least 1, got 0$"),
        ({"lr": 0.0}, "^lr must be a positive number, got 0.0$"),
        ({"lr": math.inf}, "^lr must be a positive number, got inf$"),
        ({"batch_size": 0}, "^batch_size must be at least 1, got 0$"),
        ({"weight_decay": -1e-4}, r"^weight_decay must be a number >= 0, got -0.0001$"),
        ({"train_images": torch.zeros(20, 3, 8, 8)}, "^training images must be a uint8 tensor"),
        (
            {"test_images": torch.zeros(5, 3, 9, 9, dtype=torch.uint8)},
            r"differ in shape: \(3, 8, 8\) vs \(3, 9, 9\)$",
        ),
        ({"train_labels": torch.zeros(19, dtype=torch.long)}, "20 samples but 19 labels$"),
        (
            {"test_labels": torch.tensor([0, -1, 1, 2, 0])},
            "^evaluation needs labelled data: 1 of 5 test samples have no label$",
        ),
        (
            {
                "train_images": torch.zeros(20, 3, 8, 6, dtype=torch.uint8),
                "test_images": torch.zeros(5, 3, 8, 6, dtype=torch.uint8),
            },
            r"^augment=True needs square images .* got 8x6; pass augment=False$",
        ),
    ],
)
def test_bad_inputs_are_rejected_before_any_work(change: dict[str, object], message: str) -> None:
    kwargs: dict[str, object] = {
        "encoder": MustNotRun(),
        "train_images": torch.zeros(20, 3, 8, 8, dtype=torch.uint8),
        "train_labels": torch.arange(20) % 3,
        "test_images": torch.zeros(5, 3, 8, 8, dtype=torch.uint8),
        "test_labels": torch.tensor([0, 1, 2, 0, 1]),
        "num_classes": 3,
        "fraction": 0.5,
    }
    kwargs.update(change)
    with pytest.raises(ContrastlabError, match=message):
        finetune(**kwargs)  # type: ignore[arg-type]


class MeanOfBatch(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean()


def test_an_encoder_without_one_feature_vector_per_image_is_rejected() -> None:
    with pytest.raises(ContrastlabError, match="must return one feature vector per image"):
        run(MeanOfBatch())
