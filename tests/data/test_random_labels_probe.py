"""The ``randomlabels`` probe: training labels replaced by uniform random classes, the held-out
split left with its true labels, the true labels kept in meta."""

from __future__ import annotations

import pytest
import torch

from contrastlab.api.data import prepare_data
from contrastlab.config import load_recipe
from contrastlab.core.errors import ConfigError, DataError
from contrastlab.data.probes.apply import apply_probe, probe_spec
from contrastlab.data.probes.random_labels import TRUE_LABEL, randomize_labels
from contrastlab.data.tensors import ImageTensors

CLASSES = [f"c{i}" for i in range(6)]


def labelled(n: int, classes: list[str] = CLASSES) -> ImageTensors:
    labels = torch.arange(n) % len(classes)
    images = torch.zeros(n, 1, 8, 8, dtype=torch.uint8)
    images[:, 0, 0, 0] = labels.to(torch.uint8)
    meta = {"factor": torch.arange(n, dtype=torch.float64)}
    return ImageTensors(images, labels, meta, list(classes), "toy")


def test_all_labels_random_are_uniform_and_independent_of_the_true_ones() -> None:
    data = labelled(12_000)
    out = randomize_labels(data, seed=3)
    counts = torch.bincount(out.labels, minlength=6).double() / len(out)
    assert torch.allclose(counts, torch.full((6,), 1 / 6, dtype=torch.float64), atol=0.015)
    agree = float((out.labels == data.labels).double().mean())
    assert agree == pytest.approx(1 / 6, abs=0.015)  # a random class matches by chance only
    # the images, classes and other meta are kept; the true labels move to meta
    assert out.images is data.images and out.classes == CLASSES
    assert torch.equal(out.meta["factor"], data.meta["factor"])
    assert torch.equal(out.meta[TRUE_LABEL].long(), data.labels)
    assert out.name == "toy+randomlabels" and out.labelled


def test_a_fraction_replaces_that_many_labels_and_leaves_the_rest() -> None:
    data = labelled(6_000)
    out = randomize_labels(data, fraction=0.5, seed=0)
    agree = float((out.labels == data.labels).double().mean())
    assert agree == pytest.approx(0.5 + 0.5 / 6, abs=0.02)
    assert torch.equal(randomize_labels(data, fraction=0.0).labels, data.labels)
    changed = int((out.labels != data.labels).sum())
    assert changed <= 3_000


def test_labels_are_deterministic_in_the_seed() -> None:
    data = labelled(500)
    assert torch.equal(randomize_labels(data, seed=1).labels, randomize_labels(data, seed=1).labels)
    assert not torch.equal(
        randomize_labels(data, seed=1).labels, randomize_labels(data, seed=2).labels
    )
    assert torch.equal(data.labels, torch.arange(500) % 6)  # the input is not modified


def test_random_labels_follow_their_images_through_subsets() -> None:
    out = randomize_labels(labelled(60), seed=0)
    rows = torch.tensor([5, 17, 42])
    sub = out.select(rows)
    assert torch.equal(sub.labels, out.labels[rows])
    assert torch.equal(sub.meta[TRUE_LABEL].long(), sub.images[:, 0, 0, 0].long())


def test_errors() -> None:
    with pytest.raises(ValueError, match="fraction"):
        randomize_labels(labelled(10), fraction=1.5)
    unlabelled = labelled(10)
    unlabelled.labels[:] = -1
    with pytest.raises(DataError, match="no labels"):
        randomize_labels(unlabelled)
    with pytest.raises(DataError, match="at least 2 classes"):
        randomize_labels(labelled(10, ["only"]))
    with pytest.raises(ConfigError, match="fraction must be in"):
        probe_spec("randomlabels", {"fraction": 2}, image_size=16)
    with pytest.raises(ConfigError, match="unknown key"):
        probe_spec("randomlabels", {"bits": 2}, image_size=16)
    assert probe_spec("randomlabels", {}, image_size=16).options == {"fraction": 1.0, "seed": 0}


def test_apply_probe_randomises_the_training_split_only() -> None:
    train, test = labelled(300), labelled(60)
    probed = apply_probe(train, test, "randomlabels", {"seed": 4})
    assert not torch.equal(probed.train.labels, train.labels)
    assert probed.test is test  # the held-out split keeps its true labels
    assert probed.details["options"] == {"fraction": 1.0, "seed": 4}


def test_the_recipe_option_randomises_the_decoded_training_labels() -> None:
    overrides = [
        ("data.options", {"n_train": 120, "n_test": 30}),
        ("data.image_size", 16),
        ("data.probe", "randomlabels"),
    ]
    recipe = load_recipe("ce_resnet18w0.125_shapes_16e", overrides)
    data = prepare_data(recipe.data)
    plain = prepare_data(load_recipe("ce_resnet18w0.125_shapes_16e", overrides[:2]).data)
    assert torch.equal(data.train.images, plain.train.images)
    assert torch.equal(data.train.meta[TRUE_LABEL].long(), plain.train.labels)
    assert not torch.equal(data.train.labels, plain.train.labels)
    assert data.test is not None and plain.test is not None
    assert torch.equal(data.test.labels, plain.test.labels)
