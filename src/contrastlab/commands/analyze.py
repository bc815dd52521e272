"""`contrastlab analyze KIND RUN_DIR_OR_CHECKPOINT ...`: the diagnostics, each writing
``RUN_DIR/analysis/KIND.json`` and ``RUN_DIR/figures/KIND.png`` (or into ``--out DIR``); the
library calls: `contrastlab.api.analyze`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contrastlab.api.analysis_kinds import ANALYSES, DEFAULT_INVARIANCE_SETS, INVARIANCE_SETS
from contrastlab.commands.args import data_flags, load_model_from_args, written_run
from contrastlab.core.errors import ContrastlabError
from contrastlab.train.lock import run_lock

if TYPE_CHECKING:
    from contrastlab.api.analyze import AnalysisOutput
    from contrastlab.api.loading import LoadedModel


def add_parser(subparsers: Any) -> None:
    analyze = subparsers.add_parser(
        "analyze",
        help="diagnostics: factor suppression, optimisation speed, covariance alignment, ...",
    )
    analyze.add_argument("kind", metavar="KIND", help=", ".join(ANALYSES))
    analyze.add_argument("target", metavar="RUN_DIR_OR_CHECKPOINT")
    data_flags(analyze)
    analyze.add_argument(
        "--out", metavar="DIR", help="write KIND.json and figures here (default: the run directory)"
    )
    analyze.add_argument("--no-baseline", action="store_true", help="skip the random-init encoder")
    analyze.add_argument(
        "--representation",
        metavar="NAME",
        help="which features: backbone (default) or a method's own, e.g. embedding",
    )
    analyze.add_argument(
        "--factors", metavar="A,B", help="suppression: only these factors (default: all)"
    )
    analyze.add_argument(
        "--fraction",
        type=float,
        help="speed, interpolation, criticality: fine-tune on this fraction of the labels "
        "(default: the last of "
        "eval.finetune_fractions)",
    )
    analyze.add_argument(
        "--target-top1",
        type=float,
        help="speed: the top-1 to reach (default: the random-init run's final top-1)",
    )
    analyze.add_argument(
        "--every", type=int, default=1, help="speed: measure the test top-1 every N epochs"
    )
    analyze.add_argument(
        "--other", metavar="RUN", help="cka: compare with this run (default: random init)"
    )
    analyze.add_argument(
        "--layers", metavar="A,B", help="cka: module names (default: the ResNet stages)"
    )
    analyze.add_argument(
        "--kernel", choices=("linear", "rbf"), default="linear", help="cka: the kernel"
    )
    analyze.add_argument(
        "--transforms",
        metavar="A,B",
        help=f"invariance: any of {', '.join(INVARIANCE_SETS)} "
        f"(default: {', '.join(DEFAULT_INVARIANCE_SETS)})",
    )
    analyze.add_argument(
        "--images", type=int, default=500, help="invariance: held-out images, one set each"
    )
    analyze.add_argument(
        "--top-k", type=int, default=25, help="invariance: the K most invariant neurons"
    )
    analyze.set_defaults(func=run)


def output_for(kind: str, args: argparse.Namespace, loaded: LoadedModel) -> AnalysisOutput:
    """``--out DIR`` (DIR/KIND.json, DIR/KIND.png), else the run directory's ``analysis/`` and
    ``figures/``; a bare checkpoint needs ``--out``."""
    from contrastlab.api.analyze import AnalysisOutput
    from contrastlab.api.outputs import check_out_dir, check_out_file, is_analysis_json

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


def run(args: argparse.Namespace) -> int:
    """Run the analysis KIND on TARGET; say where its JSON went."""
    from contrastlab.api.analyze import analyze

    if args.kind not in ANALYSES:
        raise ContrastlabError(f"unknown analysis {args.kind!r}; valid: {', '.join(ANALYSES)}")
    with run_lock(written_run(args), "contrastlab analyze"):
        loaded = load_model_from_args(args)
        output = output_for(args.kind, args, loaded)
        analyze(args.kind, loaded, output, args)
    print(f"\nwritten to {output.json}")
    return 0
