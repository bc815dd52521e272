"""What every paper's package (`contrastlab.reproduce.papers`) provides: a `Paper`, and the
`Context` its steps run in."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contrastlab.core.errors import ConfigError
from contrastlab.reproduce.verdict import Finding
from contrastlab.reproduce.workspace import Workspace

__all__ = ["PAPERS", "SCALES", "Context", "Paper", "Reproduction", "load_paper"]

# `contrastlab reproduce NAME` -> the package `contrastlab.reproduce.papers.<NAME with - as _>`
PAPERS = (
    "intriguing",
    "clae",
    "supcon",
    "looc",
    "transfer",
    "random-labels",
    "demystifying",
    "iic",
)
# tiny: seconds, for the tests; small: at most 20 minutes on a 2-core CPU, built-in data;
# medium: real data (CIFAR-10, MNIST from --datasets), about 45 minutes on a 2-core CPU, 3 seeds
# wherever arms are compared; paper: the GPU recipe
SCALES = ("tiny", "small", "medium", "paper")


@dataclass(frozen=True)
class Context:
    """Where and at what size a reproduction runs."""

    workspace: Workspace
    scale: str
    settings: Mapping[str, Any]  # the paper's settings at this scale
    datasets: Path | None  # the --datasets folder (CIFAR-10 JPEG, MNIST test), or None

    def dataset(self, relative: str) -> Path | None:
        """``datasets/RELATIVE`` when it exists, else None (the finding is then skipped)."""
        if self.datasets is None:
            return None
        path = self.datasets / relative
        return path if path.exists() else None


@dataclass(frozen=True)
class Paper:
    """A paper's reproduction: its name, citation, the materials its claims come from, settings
    per scale and the steps."""

    name: str
    title: str
    citation: str  # authors, venue, arXiv id
    sources: str  # the paper's own materials its claims were checked in (paper, code, logs)
    setup: str  # what the reproduction trains and measures, in a sentence or two
    scales: Mapping[str, Mapping[str, Any]]
    run: Callable[[Context], list[Finding]]


def load_paper(name: str) -> Paper:
    """The `Paper` of ``name`` (one of `PAPERS`); ConfigError naming the valid ones otherwise."""
    if name not in PAPERS:
        raise ConfigError(f"unknown paper {name!r}; valid: {', '.join(PAPERS)}")
    module = importlib.import_module(f"contrastlab.reproduce.papers.{name.replace('-', '_')}")
    paper: Paper = module.PAPER
    return paper


@dataclass
class Reproduction:
    """What a reproduction produced: where, its findings and the paper's verdict."""

    paper: Paper
    root: Path
    findings: list[Finding]
    verdict: str

    @property
    def report(self) -> Path:
        return self.root / "report.md"
