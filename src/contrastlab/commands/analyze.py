"""`contrastlab analyze KIND RUN_DIR_OR_CHECKPOINT ...`: the diagnostics, each writing
``RUN_DIR/analysis/KIND.json`` and ``RUN_DIR/figures/KIND.png`` (or into ``--out DIR``)."""

from __future__ import annotations

import argparse
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contrastlab.commands.datasets import PreparedData, prepare_data
from contrastlab.commands.loading import LoadedModel, load_model_from_args
from contrastlab.commands.outputs import check_out_dir, check_out_file, is_analysis_json
from contrastlab.errors import ContrastlabError, DataError
from contrastlab.train.checkpoint import atomic_write_text

# each KIND is `analyze_KIND(loaded, data, output, args)` in `contrastlab.commands.analyze_KIND`
ANALYSES = (
    "suppression",
    "speed",
    "covariance",
    "cka",
    "invariance",
    "interpolation",
    "criticality",
)


@dataclass
class AnalysisOutput:
    """Where an analysis writes: its JSON and its figures."""

    json: Path
    figures: Path

    def write(self, figures: dict[str, Any]) -> None:
        atomic_write_text(self.json, json.dumps(figures, indent=2) + "\n")


def output_for(kind: str, args: argparse.Namespace, loaded: LoadedModel) -> AnalysisOutput:
    """``--out DIR`` (DIR/KIND.json, DIR/KIND.png), else the run directory's ``analysis/`` and
    ``figures/``; a bare checkpoint needs ``--out``."""
    if args.out:
        out = Path(args.out)
        check_out_dir(out, f"--out {out}")  # not a run's checkpoints/, nor a user's KIND.json
        mine, json_path = f"the {kind}.json of `contrastlab analyze`", out / f"{kind}.json"
        check_out_file(json_path, f"--out {out}: {json_path}", is_analysis_json, mine)
        return AnalysisOutput(out / f"{kind}.json", out)
    if loaded.run is None:
        raise ContrastlabError(
            f"{loaded.checkpoint} is a checkpoint file, not a run directory: give --out DIR"
        )
    return AnalysisOutput(loaded.run.path / "analysis" / f"{kind}.json", loaded.run.figures)


def labelled_data(loaded: LoadedModel) -> PreparedData:
    """The recipe's data with a labelled held-out split, or a DataError saying what is missing."""
    data = prepare_data(loaded.recipe.data, progress=loaded.recipe.train.progress)
    if data.test is None:
        raise DataError(f"nothing to analyse on: {data.eval_note} (give labelled --eval-data)")
    return data


def run_analyze(args: argparse.Namespace) -> int:
    if args.kind not in ANALYSES:
        raise ContrastlabError(f"unknown analysis {args.kind!r}; valid: {', '.join(ANALYSES)}")
    loaded = load_model_from_args(args)
    output = output_for(args.kind, args, loaded)
    module = importlib.import_module(f"contrastlab.commands.analyze_{args.kind}")
    analysis = getattr(module, f"analyze_{args.kind}")
    figures: dict[str, Any] = analysis(loaded, labelled_data(loaded), output, args)
    output.write(figures)
    print(f"\nwritten to {output.json}")
    return 0
