"""`save_figure`: every report figure is written whole or not at all, and each figure module
imports on its own (the figure and evaluation packages import each other's pieces)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from contrastlab.core.figures import save_figure


def test_writes_a_png_and_closes_the_figure(tmp_path: Path) -> None:
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    out = save_figure(fig, tmp_path / "sub" / "line.png")
    assert out == tmp_path / "sub" / "line.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)
    assert sorted(p.name for p in out.parent.iterdir()) == ["line.png"]  # no temporary left


def test_a_failed_write_keeps_the_previous_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fig.png"
    fig, _ = plt.subplots()
    save_figure(fig, path)
    before = path.read_bytes()

    def broken(self: object, *args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    fig, _ = plt.subplots()
    monkeypatch.setattr(type(fig), "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        save_figure(fig, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]
    assert not plt.fignum_exists(fig.number)


@pytest.mark.parametrize(
    "module",
    ["contrastlab.evaluate.retrieval_grid", "contrastlab.evaluate.suite", "contrastlab.report"],
)
def test_imports_on_its_own(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
