"""Probe data sets from the recipe: ``data.probe`` / ``data.probe_options`` through prepare_data,
the method's views and encoder, and `contrastlab train` / `contrastlab eval` end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from contrastlab.api.data import prepare_data
from contrastlab.augment import SimCLRViews
from contrastlab.cli import main
from contrastlab.config import DEFAULT_RECIPE, build_recipe, load_recipe
from contrastlab.config.schema import Recipe
from contrastlab.core.errors import ConfigError
from contrastlab.data import materialize, open_source
from contrastlab.data.probes import (
    RandBitViews,
    block_permutation,
    block_shuffle,
    decode_randbits,
    inverse_permutation,
)
from contrastlab.data.probes.apply import apply_probe, probe_spec
from contrastlab.methods import build_method, method_encoder
from contrastlab.models.encoder import Encoder
from contrastlab.train.checkpoint import load_checkpoint

SMALL = [("data.options.n_train", 96), ("data.options.n_test", 48), ("data.image_size", 16)]


def recipe(probe: str | None, options: dict[str, Any] | None = None, **more: Any) -> Recipe:
    overrides: list[tuple[str, Any]] = [*SMALL, ("data.probe", probe)]
    if options is not None:
        overrides.append(("data.probe_options", options))
    overrides += [(key.replace("__", "."), value) for key, value in more.items()]
    return load_recipe(DEFAULT_RECIPE, overrides)


def train_cli(out: Path, tiny_args: list[str], probe: str, options: str, *extra: str) -> int:
    return main(
        [
            "train",
            "--out",
            str(out),
            "--epochs",
            "1",
            *tiny_args,
            "--set",
            f"data.probe={probe}",
            "--set",
            f"data.probe_options={options}",
            *extra,
        ]
    )


# --- end to end ---------------------------------------------------------------------------------

# The retrieval picture (figures/retrieval.png) draws 1- or 3-channel images only, and RandBit
# images have C + n channels (report/retrieval_grid.py): off here until the grid draws the first 3.


@pytest.mark.parametrize(
    ("probe", "options", "extra"),
    [
        ("randbit", "{bits: 5}", ()),
        ("digits", "{pool: 100}", ()),
        ("blockshuffle", "{block: 8}", ()),
        ("multiobject", "{k: 2, size_ratio: 2.0}", ()),
    ],
)
def test_each_probe_trains_and_evaluates_from_the_cli(
    tmp_path: Path, tiny_args: list[str], probe: str, options: str, extra: tuple[str, ...]
) -> None:
    out = tmp_path / "run"
    assert train_cli(out, tiny_args, probe, options, *extra) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and metrics["n_train"] == 96 and metrics["n_test"] == 48
    assert 0.0 <= metrics["knn_top1"] <= 1.0 and 0.0 <= metrics["linear_top1"] <= 1.0
    written = build_recipe(yaml.safe_load((out / "config.yaml").read_text()))
    assert written.data.probe == probe and written.data.probe_options
    # `contrastlab eval` rebuilds the same probe data and gets the same kNN figure.
    (out / "metrics.json").unlink()
    assert main(["eval", str(out), "--no-baseline", "--protocol", "knn", *extra]) == 0
    again = json.loads((out / "metrics.json").read_text())
    assert again["knn_top1"] == metrics["knn_top1"]
    if probe == "randbit":  # the checkpoint's encoder takes C + n channels
        state = load_checkpoint(out / "checkpoints" / "last.pt")["model"]
        assert state["encoder.backbone.conv1.weight"].shape[1] == 3 + 5


def test_randbit_with_the_retrieval_picture(tmp_path: Path, tiny_args: list[str]) -> None:
    """The picture draws the image channels only (3 of the 3 + 5)."""
    assert train_cli(tmp_path / "run", tiny_args, "randbit", "{bits: 5}") == 0
    assert (tmp_path / "run" / "figures" / "retrieval.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["--set", "data.probe=randbits"], "data.probe must be one of blockshuffle, randbit"),
        (
            ["--set", "data.probe=randbit", "--set", "data.probe_options={bit: 5}"],
            "unknown key 'data.probe_options.bit' (did you mean 'bits'?) for data.probe "
            "randbit; valid keys: bits, seed",
        ),
        (["--set", "data.probe=randbit"], "data.probe randbit needs data.probe_options.bits"),
        (
            ["--set", "data.probe=randbit", "--set", "data.probe_options={bits: 0}"],
            "data.probe_options.bits must be in 1..63, got 0",
        ),
        (
            ["--set", "data.probe=blockshuffle", "--set", "data.probe_options={block: 5}"],
            "data.probe_options.block must be a divisor of data.image_size 16 (1, 2, 4, 8, 16)",
        ),
        (
            ["--set", "data.probe=digits", "--set", "data.probe_options={pool: 5000}"],
            "digit pool size 5000 exceeds",
        ),
        (
            ["--set", "data.probe=multiobject", "--set", "data.probe_options={objects: shape}"],
            "data.probe_options.objects must be one of source, shapes; got 'shape' "
            "(did you mean 'shapes'?)",
        ),
        (["--set", "data.probe_options={bits: 5}"], "data.probe_options must be empty without"),
    ],
)
def test_bad_probe_or_option_is_one_line_and_exit_2(
    tmp_path: Path,
    tiny_args: list[str],
    capsys: pytest.CaptureFixture[str],
    overrides: list[str],
    message: str,
) -> None:
    args = ["train", "--out", str(tmp_path / "run"), "--epochs", "1", *tiny_args, *overrides]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("contrastlab: error: ") and message in err, err


# --- RandBit ------------------------------------------------------------------------------------


def test_randbit_encoder_views_and_held_out_bits() -> None:
    n = 5
    probed = recipe("randbit", {"bits": n})
    plain = recipe(None)
    data, base = prepare_data(probed.data), prepare_data(plain.data)
    assert data.test is not None and base.test is not None
    for split, original in ((data.train, base.train), (data.test, base.test)):
        assert split.images.shape[1] == 3 + n
        assert torch.equal(split.images[:, :3], original.images)  # the image channels untouched
        # meta["randbit"] is what the planes hold, held-out images included
        assert torch.equal(decode_randbits(split.images, n), split.meta["randbit"].long())
        assert set(split.images[:, 3:].unique().tolist()) <= {0, 255}
    # another seed for the held-out split: image i does not share the bits of training image i
    assert not torch.equal(data.train.meta["randbit"][:48], data.test.meta["randbit"])

    method = build_method(probed)
    encoder = method_encoder(method)
    assert isinstance(encoder, Encoder)
    conv1 = encoder.backbone.get_submodule("conv1")
    assert isinstance(conv1, torch.nn.Conv2d) and conv1.in_channels == 3 + n
    assert encoder.get_buffer("mean").flatten().tolist()[3:] == [0.0] * n
    assert encoder.get_buffer("std").flatten().tolist()[3:] == [1.0] * n
    views = method.views
    assert isinstance(views, RandBitViews) and isinstance(views, SimCLRViews)
    batch = data.train.images[:16]
    generator = torch.Generator().manual_seed(3)
    v1, v2 = views(batch, generator), views(batch, generator)
    bits = data.train.meta["randbit"][:16].long()
    for view in (v1, v2):
        assert view.shape == (16, 3 + n, 16, 16) and view.dtype == torch.float32
        planes = view[:, 3:]
        assert torch.equal(planes, planes[:, :, :1, :1].expand_as(planes))  # constant planes
        assert torch.equal(decode_randbits(view, n), bits)
    assert torch.equal(v1[:, 3:], v2[:, 3:]) and not torch.equal(v1[:, :3], v2[:, :3])
    # the image channels are exactly the plain view maker's, from the same generator draws
    plain_views = build_method(plain).views
    generator = torch.Generator().manual_seed(3)
    assert torch.equal(v1[:, :3], plain_views(base.train.images[:16], generator))
    # the encoder takes the views
    assert encoder(v1).shape == (16, encoder.feature_dim)


def test_randbit_refuses_looc_and_sobel() -> None:
    with pytest.raises(ConfigError, match="cannot be used with method looc"):
        build_method(recipe("randbit", {"bits": 3}, method__name="looc", augment__rotation_p=0.5))
    with pytest.raises(ConfigError, match=r"method\.iic\.sobel"):
        build_method(recipe("randbit", {"bits": 3}, method__name="iic", method__iic__sobel=True))


# --- block shuffle ------------------------------------------------------------------------------


def test_blockshuffle_shuffles_both_splits_with_one_permutation() -> None:
    data = prepare_data(recipe("blockshuffle", {"block": 4, "seed": 7}).data)
    base = prepare_data(recipe(None).data)
    assert data.test is not None and base.test is not None
    permutation = block_permutation(16, 4, 7)
    assert torch.equal(data.probe["permutation"], permutation)
    inverse = inverse_permutation(permutation)
    for split, original in ((data.train, base.train), (data.test, base.test)):
        assert not torch.equal(split.images, original.images)
        assert torch.equal(block_shuffle(split.images, 4, inverse), original.images)
        assert torch.equal(split.labels, original.labels)


# --- digits and multi-object --------------------------------------------------------------------


def test_digits_keep_both_labels_in_meta() -> None:
    data = prepare_data(recipe("digits", {"pool": 20}).data)
    base = prepare_data(recipe(None).data)
    assert data.test is not None and base.test is not None
    pool_labels = data.probe["pool_labels"]
    assert data.probe["digit_classes"] == [str(d) for d in range(10)]
    for split, original in ((data.train, base.train), (data.test, base.test)):
        ids = split.meta["digit_id"].long()
        assert int(ids.min()) >= 0 and int(ids.max()) < 20
        assert torch.equal(split.meta["digit_label"].long(), pool_labels[ids])
        assert torch.equal(split.labels, original.labels)
        assert bool((split.images >= original.images).all())  # a pixel-wise max merge
    assert data.probe["options"]["digit_size"] == 4  # the largest that fits 16 pixels' grid


@pytest.mark.parametrize("objects", ["source", "shapes"])
def test_multiobject_canvases_keep_every_objects_label(objects: str) -> None:
    data = prepare_data(recipe("multiobject", {"k": 3, "objects": objects}).data)
    assert data.test is not None
    for split in (data.train, data.test):
        assert split.images.shape == (len(split), 3, 16, 16)
        assert sorted(split.meta) == ["object0", "object1", "object2"]
        assert torch.equal(split.labels, split.meta["object0"].long())
    assert not torch.equal(data.train.meta["object0"][:48], data.test.meta["object0"])


def test_multiobject_crops_make_an_object_centric_training_split() -> None:
    """crops: true -> k crops per training canvas, each labelled by its own object; the held-out
    split stays the scene canvases, the same as without crops."""
    scenes = prepare_data(recipe("multiobject", {"k": 2}).data)
    crops = prepare_data(recipe("multiobject", {"k": 2, "crops": True}).data)
    assert scenes.test is not None and crops.test is not None
    assert len(crops.train) == 2 * len(scenes.train)
    assert crops.train.images.shape[1:] == scenes.train.images.shape[1:]
    per_object = torch.stack([scenes.train.meta["object0"], scenes.train.meta["object1"]], dim=1)
    assert torch.equal(crops.train.labels, per_object.reshape(-1).long())
    assert torch.equal(crops.test.images, scenes.test.images)


def test_multiobject_needs_labelled_objects() -> None:
    train = prepare_data(recipe(None).data).train
    unlabelled = train.select(torch.arange(8))
    unlabelled.labels = torch.full((8,), -1)
    with pytest.raises(Exception, match="objects: shapes"):
        apply_probe(unlabelled, None, "multiobject", {})
    shapes = apply_probe(unlabelled, None, "multiobject", {"objects": "shapes"})
    assert len(shapes.train) == 8 and shapes.test is None


# --- no probe -----------------------------------------------------------------------------------


def test_no_probe_leaves_everything_as_it_was() -> None:
    config = recipe(None).data
    assert config.probe is None and config.probe_options == {}
    assert config.encoder_inputs() == (3, tuple(config.mean), tuple(config.std))
    prepared = prepare_data(config)
    assert prepared.probe == {} and prepared.test is not None
    splits = open_source("shapes", image_size=16, options=config.options)
    assert splits.test is not None
    for got, source in ((prepared.train, splits.train), (prepared.test, splits.test)):
        decoded = materialize(source, image_size=16, channels=3)
        assert torch.equal(got.images, decoded.images) and torch.equal(got.labels, decoded.labels)
        assert got.meta.keys() == decoded.meta.keys() and got.name == decoded.name
    views = build_method(recipe(None)).views
    assert type(views) is SimCLRViews
    # recipes written before probes existed (no probe keys) still load
    tree = {"data": {"source": "shapes", "image_size": 16}}
    assert build_recipe(tree).data.probe is None


def test_probe_spec_fills_in_defaults() -> None:
    spec = probe_spec("multiobject", {"k": 2, "size_ratio": 2.0}, image_size=16)
    assert spec.options == {
        "k": 2,
        "size_ratio": 2.0,
        "object_size": 4,
        "objects": "source",
        "crops": False,
        "seed": 0,
    }
    with pytest.raises(ConfigError, match=r"data\.probe_options\.crops must be true or false"):
        probe_spec("multiobject", {"crops": "yes"}, image_size=16)
    assert probe_spec("randbit", {"bits": 5}, image_size=16).options == {"bits": 5, "seed": 0}
    with pytest.raises(ConfigError, match=r"data\.probe_options\.bits must be an integer"):
        probe_spec("randbit", {"bits": True}, image_size=16)
