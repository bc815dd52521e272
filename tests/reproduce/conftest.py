"""The check that keeps the gallery current: each paper's tiny scale, rerun by its test, must
compute the numbers the gallery recorded beside that paper's report (docs/reproductions/PAPER/
numbers.json, written by `contrastlab reproduce PAPER --publish`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from contrastlab.reproduce.numbers import NUMBERS_FILE, differences, numbers, one_thread

GALLERY = Path(__file__).resolve().parents[2] / "docs" / "reproductions"


def recorded_numbers(paper: str) -> dict[str, float]:
    record = json.loads((GALLERY / paper / NUMBERS_FILE).read_text())
    assert record["paper"] == paper and record["scale"] == "tiny"
    return {key: float(value) for key, value in record["numbers"].items()}


def check_gallery_numbers(root: Path, paper: str) -> None:
    found = differences(recorded_numbers(paper), numbers(root))
    assert not found, (
        f"the code now computes other numbers for {paper} than the ones its gallery report "
        f"was made with ({len(found)} differ; first: {found[:3]}): regenerate it with "
        f"`contrastlab reproduce {paper} --scale small --publish docs/reproductions "
        "--datasets ../shared/datasets` (see docs/reproducing.md)"
    )


@pytest.fixture(autouse=True)
def _as_recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The tiny scales run as the gallery's numbers were recorded: without real data, on one
    thread."""
    monkeypatch.delenv("CONTRASTLAB_DATASETS", raising=False)
    with one_thread():
        yield


@pytest.fixture
def gallery_numbers() -> Callable[[Path, str], None]:
    """``check(root, paper)``: the tiny reproduction in ``root`` computed the gallery's numbers."""
    return check_gallery_numbers
