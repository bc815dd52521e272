"""open_source: dispatch by spec, and one-line errors for specs that cannot be opened."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import contrastlab.data as data
from contrastlab.core.errors import ContrastlabError, DataError
from contrastlab.data import BUILTIN_SOURCES, ImageSource, SourceSplits, open_source


def message_of(spec: str, **kwargs: object) -> str:
    with pytest.raises(DataError) as err:
        open_source(spec, **kwargs)  # type: ignore[arg-type]
    message = str(err.value)
    assert "\n" not in message
    return message


def test_public_names_are_re_exported() -> None:
    for name in (
        "BUILTIN_SOURCES",
        "ImageSource",
        "ImageTensors",
        "Sample",
        "SourceSplits",
        "conform",
        "holdout_split",
        "materialize",
        "open_source",
        "take_subset",
    ):
        assert hasattr(data, name), name
    assert BUILTIN_SOURCES == ("shapes", "digits", "sequences")
    assert issubclass(DataError, ContrastlabError)


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "data.npz"
    assert message_of(str(missing)) == (
        f"no such file or directory: {missing} (give a path or one of: shapes, digits, sequences)"
    )


def test_unknown_name_that_is_not_a_path() -> None:
    message = message_of("shapez")
    assert message == (
        "unknown data source 'shapez': neither a built-in (shapes, digits, sequences) nor an "
        "existing path"
    )


def test_unrecognised_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    message = message_of(str(path))
    assert message.startswith(f"unrecognised data file: {path} (expected .npz")


def test_bad_image_size() -> None:
    assert "image_size must be a positive integer" in message_of("shapes", image_size=0)


def test_unknown_option_lists_valid_ones(tmp_path: Path) -> None:
    message = message_of("shapes", options={"colour": "red"})
    assert message == (
        "unknown option 'colour' for data source shapes (valid: n_test, n_train, seed)"
    )
    np.savez(tmp_path / "a.npz", images=np.zeros((1, 2, 2), np.uint8))
    message = message_of(str(tmp_path / "a.npz"), options={"colour": "red"})
    assert "unknown option 'colour'" in message and "takes no options" in message


def test_every_kind_of_spec_gives_image_sources(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", images=np.zeros((2, 3, 3), np.uint8))
    for spec in ("shapes", "digits", str(tmp_path / "a.npz")):
        splits = open_source(
            spec, options={"n_train": 2, "n_test": 2} if spec == "shapes" else None
        )
        assert isinstance(splits, SourceSplits)
        assert isinstance(splits.train, ImageSource)
        assert splits.test is None or isinstance(splits.test, ImageSource)
        assert isinstance(splits.train.name, str) and splits.train.name


def test_home_directory_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    np.savez(tmp_path / "b.npz", images=np.zeros((1, 2, 2), np.uint8))
    assert len(open_source("~/b.npz").train) == 1
