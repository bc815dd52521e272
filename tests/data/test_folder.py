"""Image folders and tar archives of image trees: decoding, layouts, labels and errors."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

from contrastlab.core.errors import DataError
from contrastlab.data import ImageSource, materialize, open_source

if TYPE_CHECKING:
    from conftest import DataFiles


def chw(array: np.ndarray) -> torch.Tensor:
    """(H, W, C) -> (C, H, W) tensor."""
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def one_line(err: pytest.ExceptionInfo[DataError]) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.fixture
def class_tree(files: DataFiles) -> dict[str, np.ndarray]:
    """root/b_cat/{1.png, 2.jpg}, root/a_dog/{3.png (greyscale), 4.png (RGBA)}, plus ignored
    files. Returns the arrays written, keyed by relative path."""
    arrays = {
        "b_cat/1.png": files.pixels(6, 5),
        "b_cat/2.jpg": np.full((8, 8, 3), (200, 40, 90), dtype=np.uint8),
        "a_dog/3.png": files.pixels(4, 7, channels=1),
        "a_dog/4.png": files.pixels(5, 5, channels=4),
    }
    for name, array in arrays.items():
        files.image(f"root/{name}", array, **({"quality": 95} if name.endswith(".jpg") else {}))
    files.path("root/b_cat/notes.txt").write_text("not an image")
    files.path("root/.DS_Store").write_bytes(b"\x00\x01")
    files.image("root/a_dog/.hidden.png", files.pixels(3, 3))
    files.image("root/.cache/c.png", files.pixels(3, 3))
    return arrays


def check_class_tree(source: ImageSource, arrays: dict[str, np.ndarray]) -> None:
    assert list(source.classes) == ["a_dog", "b_cat"]
    assert len(source) == 4
    grey, rgba = arrays["a_dog/3.png"], arrays["a_dog/4.png"]
    s = source[0]  # a_dog/3.png, greyscale: replicated into three equal channels
    assert s.label == 0 and s.image.dtype == torch.uint8
    assert torch.equal(s.image, torch.from_numpy(grey)[None].repeat(3, 1, 1))
    s = source[1]  # a_dog/4.png, RGBA: alpha dropped
    assert s.label == 0 and torch.equal(s.image, chw(rgba[:, :, :3]))
    s = source[2]  # b_cat/1.png
    assert s.label == 1 and torch.equal(s.image, chw(arrays["b_cat/1.png"]))
    s = source[3]  # b_cat/2.jpg: lossy, but a flat colour survives almost exactly
    assert s.label == 1 and s.image.shape == (3, 8, 8)
    expected = chw(arrays["b_cat/2.jpg"]).int()
    assert (s.image.int() - expected).abs().max() <= 3


def test_class_folders_decode_to_exact_pixels_and_sorted_labels(
    files: DataFiles, class_tree: dict[str, np.ndarray]
) -> None:
    splits = open_source(str(files.root / "root"))
    assert splits.test is None
    assert isinstance(splits.train, ImageSource)
    assert splits.train.name == str(files.root / "root")
    check_class_tree(splits.train, class_tree)


def test_tar_gz_of_a_tree_reads_like_the_folder(
    files: DataFiles, class_tree: dict[str, np.ndarray]
) -> None:
    archive = files.tar("images.tar.gz", files.root / "root", arcname="dataset")
    # Delete the folder: the archive must be read from its own bytes, not extracted.
    for path in sorted((files.root / "root").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    splits = open_source(str(archive))
    assert splits.test is None
    check_class_tree(splits.train, class_tree)


@pytest.mark.parametrize("name", ["plain.tar", "packed.tgz"])
def test_tar_and_tgz_with_train_and_test(files: DataFiles, name: str) -> None:
    a, b, c = files.pixels(4, 4), files.pixels(4, 4), files.pixels(4, 4)
    files.image("tree/train/x/0.png", a)
    files.image("tree/train/y/0.png", b)
    files.image("tree/test/y/0.png", c)
    splits = open_source(str(files.tar(name, files.root / "tree", arcname=".")))
    assert splits.test is not None
    assert list(splits.train.classes) == ["x", "y"] == list(splits.test.classes)
    assert [splits.train[i].label for i in range(2)] == [0, 1]
    assert torch.equal(splits.train[1].image, chw(b))
    assert len(splits.test) == 1 and splits.test[0].label == 1
    assert torch.equal(splits.test[0].image, chw(c))


def test_flat_folder_is_unlabelled(files: DataFiles) -> None:
    arrays = [files.pixels(3, 4) for _ in range(3)]
    for i, array in enumerate(arrays):
        files.image(f"flat/img{i}.png", array)
    splits = open_source(str(files.root / "flat"))
    assert list(splits.train.classes) == [] and splits.test is None
    assert [splits.train[i].label for i in range(3)] == [-1, -1, -1]
    assert all(torch.equal(splits.train[i].image, chw(arrays[i])) for i in range(3))
    assert not materialize(splits.train, image_size=4).labelled


def test_train_test_folders_share_class_indices(files: DataFiles) -> None:
    files.image("ds/train/cat/a.png", files.pixels(4, 4))
    files.image("ds/train/dog/b.png", files.pixels(4, 4))
    files.image("ds/test/bird/c.png", files.pixels(4, 4))
    files.image("ds/test/dog/d.png", files.pixels(4, 4))
    splits = open_source(str(files.root / "ds"))
    assert splits.test is not None
    assert list(splits.train.classes) == ["bird", "cat", "dog"]
    assert [splits.train[i].label for i in range(2)] == [1, 2]
    assert [splits.test[i].label for i in range(2)] == [0, 2]
    assert splits.train.name.endswith(":train") and splits.test.name.endswith(":test")


def test_val_is_the_test_split_when_there_is_no_test(files: DataFiles) -> None:
    files.image("ds/train/cat/a.png", files.pixels(4, 4))
    files.image("ds/val/cat/b.png", files.pixels(4, 4))
    splits = open_source(str(files.root / "ds"))
    assert splits.test is not None and len(splits.test) == 1


def test_train_only_split_folder_has_no_test(files: DataFiles) -> None:
    files.image("ds/train/cat/a.png", files.pixels(4, 4))
    files.image("ds/train/dog/b.png", files.pixels(4, 4))
    splits = open_source(str(files.root / "ds"))
    assert splits.test is None and list(splits.train.classes) == ["cat", "dog"]


def test_common_leading_folders_are_stripped(files: DataFiles) -> None:
    files.image("deep/a/b/cat/1.png", files.pixels(4, 4))
    files.image("deep/a/b/dog/2.png", files.pixels(4, 4))
    splits = open_source(str(files.root / "deep"))
    assert list(splits.train.classes) == ["cat", "dog"]


def test_mixed_layout_is_an_error(files: DataFiles) -> None:
    files.image("mixed/top.png", files.pixels(4, 4))
    files.image("mixed/cat/1.png", files.pixels(4, 4))
    with pytest.raises(DataError) as err:
        open_source(str(files.root / "mixed"))
    message = one_line(err)
    assert "mixed layout" in message and str(files.root / "mixed") in message
    assert "class/file" in message


def test_three_levels_without_split_names_is_an_error(files: DataFiles) -> None:
    files.image("odd/a/cat/1.png", files.pixels(4, 4))
    files.image("odd/b/dog/2.png", files.pixels(4, 4))
    with pytest.raises(DataError, match="unsupported layout"):
        open_source(str(files.root / "odd"))


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(DataError) as err:
        open_source(str(tmp_path / "empty"))
    assert one_line(err) == f"empty image folder: {tmp_path / 'empty'} (no files Pillow can read)"


def test_corrupt_image_names_the_file(files: DataFiles) -> None:
    files.image("bad/cat/good.png", files.pixels(4, 4))
    files.path("bad/cat/broken.png").write_bytes(b"definitely not a png")
    png = files.image("tmp/t.png", files.pixels(16, 16))
    files.path("bad/dog/truncated.png").write_bytes(png.read_bytes()[:60])
    splits = open_source(str(files.root / "bad"))
    for index, name in [(0, "cat/broken.png"), (2, "dog/truncated.png")]:
        with pytest.raises(DataError) as err:
            splits.train[index]
        assert str(files.root / "bad" / name) in one_line(err)
    with pytest.raises(DataError) as err:
        materialize(splits.train, image_size=4)
    assert "cat/broken.png" in one_line(err)


def test_corrupt_member_in_tar_names_archive_and_member(files: DataFiles) -> None:
    files.image("src/cat/ok.png", files.pixels(4, 4))
    files.path("src/cat/zz.png").write_bytes(b"garbage")
    archive = files.tar("bad.tar.gz", files.root / "src", arcname="set")
    splits = open_source(str(archive))
    with pytest.raises(DataError) as err:
        materialize(splits.train, image_size=4, workers=2)
    assert f"{archive}:set/cat/zz.png" in one_line(err)


def test_tar_hidden_and_non_image_members_are_ignored(files: DataFiles, tmp_path: Path) -> None:
    array = files.pixels(4, 4)
    files.image("src/cat/1.png", array)
    files.image("src/dog/2.png", array)
    files.path("src/README").write_text("text")
    archive = files.tar("data.tar", files.root / "src", arcname="src")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"AppleDouble junk")
    with tarfile.open(archive, "a") as tar:
        tar.add(junk, arcname="src/cat/._1.png")
        tar.add(junk, arcname="__MACOSX/.hidden/x.png")
    splits = open_source(str(archive))
    assert list(splits.train.classes) == ["cat", "dog"] and len(splits.train) == 2


def test_damaged_archive_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.tar.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(DataError) as err:
        open_source(str(path))
    assert f"cannot read archive {path}" in one_line(err)


def test_folder_takes_no_options(files: DataFiles) -> None:
    files.image("f/a.png", files.pixels(4, 4))
    with pytest.raises(DataError, match="unknown option 'n_train'"):
        open_source(str(files.root / "f"), options={"n_train": 3})


def test_misnamed_image_still_decodes(files: DataFiles) -> None:
    array = files.pixels(4, 6)
    png = files.image("tmp/real.png", array)
    files.path("named/cat/actually_png.jpg").write_bytes(png.read_bytes())
    files.image("named/dog/ok.png", array)
    splits = open_source(str(files.root / "named"))
    assert torch.equal(splits.train[0].image, chw(array))
