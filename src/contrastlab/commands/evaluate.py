"""`contrastlab eval RUN_DIR_OR_CHECKPOINT`: the evaluation suite on any trained encoder (the
library call: `contrastlab.api.evaluate_run.evaluate_run`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from contrastlab.commands.args import data_flags, overrides_from, written_run
from contrastlab.train.lock import run_lock


def add_parser(subparsers: Any) -> None:
    evaluate = subparsers.add_parser(
        "eval",
        help="kNN, linear probe, retrieval, clustering, few-label fine-tuning vs random init "
        "and raw pixels",
    )
    evaluate.add_argument("target", metavar="RUN_DIR_OR_CHECKPOINT")
    data_flags(evaluate)
    evaluate.add_argument(
        "--protocol",
        action="append",
        metavar="NAME",
        help="knn, linear, retrieval, clustering, finetune or all; repeat or comma-separate "
        "(default: the recipe's eval.protocols: all but finetune)",
    )
    evaluate.add_argument(
        "--out", help="write the figures as JSON here (default: merged into RUN_DIR/metrics.json)"
    )
    evaluate.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip both baselines: the random-init twin and the raw pixels (eval.pixel_baseline)",
    )
    evaluate.add_argument(
        "--representation",
        metavar="NAME",
        help="which features to evaluate: backbone (default) or a method's own, e.g. looc++",
    )
    evaluate.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate TARGET, print the results table and whether the trained encoder beats its
    baselines, say where the figures went."""
    from contrastlab.api.evaluate_run import checked_out, evaluate_loaded, with_protocols
    from contrastlab.api.loading import load_model
    from contrastlab.evaluate.baseline_check import warning_lines
    from contrastlab.report import results_table

    with run_lock(written_run(args), "contrastlab eval"):
        out = checked_out(Path(args.out) if args.out else None)
        loaded = load_model(args.target, with_protocols(overrides_from(args), args.protocol))
        metrics = evaluate_loaded(loaded, not args.no_baseline, out)
    print(
        f"{loaded.checkpoint} (epoch {loaded.epoch}), held-out data: {metrics['eval_data']} "
        f"({metrics['n_test']} images)\n"
    )
    print(results_table(metrics))
    for line in warning_lines(metrics["baseline_check"]):
        print(line)
    written = out or (loaded.run.metrics_json if loaded.run is not None else None)
    if written is not None:
        print(f"\nwritten to {written}")
    else:
        print("\nnot written to a file: a bare checkpoint has no run directory (give --out FILE)")
    return 0
