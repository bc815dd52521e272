"""Grouped bars with a reference line per group (`contrastlab.report.grouped_bars`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from contrastlab.report.grouped_bars import grouped_bars


def test_writes_a_png(tmp_path: Path) -> None:
    path = grouped_bars(
        ["occlusion", "rotation"],
        {"a": [50.0, 60.0], "b": [40.0, 70.0]},
        tmp_path / "sub" / "bars.png",
        ylabel="score",
        reference=[25.0, 35.0],
        errors={"a": [1.0, 2.0]},
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_series_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2 values for 3 groups"):
        grouped_bars(["a", "b", "c"], {"x": [1.0, 2.0]}, tmp_path / "x.png", ylabel="y")


def test_errors_of_the_wrong_length_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="e: 1 values for 2 groups"):
        grouped_bars(
            ["a", "b"], {"e": [1.0, 2.0]}, tmp_path / "x.png", ylabel="y", errors={"e": [1.0]}
        )
