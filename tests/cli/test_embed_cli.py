"""`contrastlab embed` end to end on a tiny run: the features file holds exactly the frozen
features of the chosen split, with its labels; the map is a PNG beside it; bad input is one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from contrastlab.api.data import prepare_data
from contrastlab.api.loading import load_model
from contrastlab.cli import main
from contrastlab.evaluate import extract_features
from contrastlab.evaluate.embeddings_io import load_embeddings

PNG = b"\x89PNG\r\n\x1a\n"


def expected_split(run: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The features and labels the command should write, computed the long way round."""
    loaded = load_model(run, [])
    data = prepare_data(loaded.recipe.data)
    images = data.test if split == "test" else data.train
    assert images is not None
    features = extract_features(
        loaded.representation(),
        images.images,
        batch_size=loaded.recipe.eval.batch_size,
        device=loaded.device,
    )
    return features.numpy(), images.labels.numpy()


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("contrastlab: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


def test_embed_writes_the_test_features_and_a_map(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["embed", str(run), "--map", "tsne"]) == 0
    out = run / "embeddings" / "test.npz"
    png = run / "embeddings" / "test.png"
    printed = capsys.readouterr().out
    assert str(out) in printed and str(png) in printed
    features, labels, metadata = load_embeddings(out)
    want_features, want_labels = expected_split(run, "test")
    assert np.array_equal(features, want_features) and np.array_equal(labels, want_labels)
    assert features.shape == (48, metadata["dim"]) and png.read_bytes()[:8] == PNG
    assert metadata["checkpoint"] == str(run / "checkpoints" / "last.pt")
    assert metadata["epoch"] == 1 and metadata["method"] == "simclr"
    assert metadata["backbone"] == "resnet18" and metadata["representation"] == "backbone"
    assert metadata["data"] == "shapes" and metadata["split"] == "test"
    assert metadata["eval_data"] == "the test split of shapes"
    assert metadata["classes"] == ["circle", "ring", "triangle", "square", "cross", "star"]
    assert metadata["n"] == 48 and metadata["map"] == "tsne"


def test_embed_parquet_train_split_and_representation(run: Path, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    target = tmp_path / "out" / "train.parquet"
    assert main(["embed", str(run), "--split", "train", "--map", "none", "--out", str(target)]) == 0
    features, labels, metadata = load_embeddings(target)
    want_features, want_labels = expected_split(run, "train")
    assert features.shape[0] == 96 and metadata["n"] == 96 and metadata["split"] == "train"
    assert np.array_equal(features, want_features) and np.array_equal(labels, want_labels)
    assert metadata["map"] == "none" and not target.with_suffix(".png").exists()
    # A bare checkpoint with --out, and the head's embedding instead of the backbone.
    other = tmp_path / "embedding.npz"
    checkpoint = run / "checkpoints" / "last.pt"
    args = ["embed", str(checkpoint), "--representation", "embedding", "--map", "none"]
    assert main([*args, "--out", str(other)]) == 0
    features, _, metadata = load_embeddings(other)
    assert metadata["representation"] == "embedding" and features.shape == (48, 16)


def test_embed_unlabelled_images(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(flat / f"{i}.png")
    data = ["--data", str(flat), "--set", "data.options={}"]
    target = tmp_path / "flat.npz"
    capsys.readouterr()
    code = main(["embed", str(run), *data, "--out", str(target)])
    assert_one_line_error(code, capsys.readouterr().err, "no held-out split", "--split train")
    assert (
        main(["embed", str(run), *data, "--split", "train", "--map", "tsne", "--out", str(target)])
        == 0
    )
    features, labels, metadata = load_embeddings(target)
    assert features.shape[0] == 12 and labels.tolist() == [-1] * 12 and metadata["classes"] == []
    assert target.with_suffix(".png").read_bytes()[:8] == PNG


def test_embed_bad_input(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    code = main(["embed", str(run), "--representation", "nope"])
    assert_one_line_error(code, capsys.readouterr().err, "'nope'", "backbone, embedding")
    checkpoint = run / "checkpoints" / "last.pt"
    code = main(["embed", str(checkpoint)])
    assert_one_line_error(code, capsys.readouterr().err, str(checkpoint), "--out")
    code = main(["embed", str(tmp_path / "nowhere")])
    assert_one_line_error(code, capsys.readouterr().err, "nowhere")
    code = main(["embed", str(run), "--out", str(tmp_path / "e.csv")])
    assert_one_line_error(code, capsys.readouterr().err, "e.csv", ".npz or .parquet")
    assert not (run / "embeddings").exists()
