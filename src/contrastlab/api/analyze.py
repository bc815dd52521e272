"""The diagnostics of `contrastlab analyze KIND`: each KIND is ``analyze_KIND(loaded, data,
output, options)`` in `contrastlab.api.analyze_KIND`, writing its JSON and figures to an
`AnalysisOutput`; `analyze` runs one by name."""

from __future__ import annotations

import argparse
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contrastlab.api.analysis_kinds import ANALYSES
from contrastlab.api.data import PreparedData, prepare_data
from contrastlab.api.loading import LoadedModel
from contrastlab.core.atomic import atomic_write_text
from contrastlab.core.errors import ContrastlabError, DataError

__all__ = ["ANALYSES", "AnalysisOutput", "analyze", "labelled_data"]


@dataclass
class AnalysisOutput:
    """Where an analysis writes: its JSON and its figures."""

    json: Path
    figures: Path

    def write(self, figures: dict[str, Any]) -> None:
        atomic_write_text(self.json, json.dumps(figures, indent=2) + "\n")


def labelled_data(loaded: LoadedModel) -> PreparedData:
    """The recipe's data with a labelled held-out split, or a DataError saying what is missing."""
    data = prepare_data(loaded.recipe.data, progress=loaded.recipe.train.progress)
    if data.test is None:
        raise DataError(f"nothing to analyse on: {data.eval_note} (give labelled --eval-data)")
    return data


def analyze(
    kind: str, loaded: LoadedModel, output: AnalysisOutput, options: argparse.Namespace
) -> dict[str, Any]:
    """Run the analysis ``kind`` of ``loaded`` on its recipe's labelled data, with ``options``
    (the flags of `contrastlab analyze KIND`), and write its JSON; its figures."""
    if kind not in ANALYSES:
        raise ContrastlabError(f"unknown analysis {kind!r}; valid: {', '.join(ANALYSES)}")
    module = importlib.import_module(f"contrastlab.api.analyze_{kind}")
    analysis = getattr(module, f"analyze_{kind}")
    figures: dict[str, Any] = analysis(loaded, labelled_data(loaded), output, options)
    output.write(figures)
    return figures
