"""`contrastlab reproduce PAPER`: rerun a paper's key finding, write its report, print verdicts
(the library call: `contrastlab.reproduce.runner.reproduce`). The command lives here, above the
other commands, because a reproduction runs them (`contrastlab.commands.run_command`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from contrastlab.core.errors import ConfigError
from contrastlab.reproduce.paper import PAPERS, SCALES, load_paper

DATASETS_VARIABLE = "CONTRASTLAB_DATASETS"  # where the real-data parts find their files


def add_parser(subparsers: Any) -> None:
    reproduce = subparsers.add_parser(
        "reproduce", help="rerun a paper's key finding at small scale and report the verdict"
    )
    reproduce.add_argument("paper", nargs="?", metavar="PAPER", help="see --list")
    reproduce.add_argument("--list", action="store_true", help="list the papers")
    reproduce.add_argument(
        "--scale",
        choices=SCALES,
        default="small",
        help="small: at most 20 min on a 2-core CPU, built-in data (default); medium: real "
        "data from --datasets, about 45 min, 3 seeds (clae so far); paper: the GPU recipe; "
        "tiny: seconds, a smoke test",
    )
    reproduce.add_argument(
        "--out", metavar="DIR", help="working directory (default: runs/reproduce-PAPER-SCALE)"
    )
    reproduce.add_argument(
        "--datasets",
        metavar="DIR",
        help="CIFAR-10 JPEG / MNIST folder (default: $CONTRASTLAB_DATASETS; parts needing it "
        "are skipped without one)",
    )
    reproduce.add_argument(
        "--publish", metavar="DIR", help="also copy the report and figures to DIR/PAPER/"
    )
    reproduce.add_argument(
        "--progress", action="store_true", help="show each training run's progress bars"
    )
    reproduce.set_defaults(func=run)


def datasets_setting(given: str | None) -> Path | None:
    """The real-data folder: ``--datasets``, else $CONTRASTLAB_DATASETS, else none (the parts
    that need real images are skipped). An installed package ships no data, so there is no
    default path."""
    chosen = given or os.environ.get(DATASETS_VARIABLE) or None
    if chosen is None:
        return None
    datasets = Path(chosen)
    if not datasets.is_dir():
        source = "--datasets" if given else f"${DATASETS_VARIABLE}"
        raise ConfigError(f"{source} {datasets} is not a directory")
    return datasets


def run(args: argparse.Namespace) -> int:
    """Run (or resume) the reproduction, print its verdicts, publish it when asked."""
    if args.list:
        for name in PAPERS:
            paper = load_paper(name)
            print(f"{name:14s} {paper.title} ({paper.citation})")
        return 0
    if args.paper is None:
        raise ConfigError(f"name a paper ({', '.join(PAPERS)}) or give --list")
    from contrastlab.reproduce.publish import check_publish, publish
    from contrastlab.reproduce.reproduction_report import verdict_table
    from contrastlab.reproduce.runner import reproduce, tiny_numbers

    datasets = datasets_setting(args.datasets)
    if args.publish:  # a refusal comes now, not after the reproduction's minutes
        check_publish(load_paper(args.paper).name, Path(args.publish), args.scale)
    result = reproduce(
        args.paper,
        scale=args.scale,
        out=Path(args.out) if args.out else None,
        datasets=datasets,
        progress=args.progress,
    )
    print(f"\n{result.paper.title}: {result.verdict}\n")
    print(verdict_table(result.findings))
    print(f"\nreport: {result.report}")
    if args.publish:  # with the tiny scale's numbers, which tell when the report goes stale
        tiny = tiny_numbers(result.paper.name)  # rerun on one thread, as the tests compare
        print(f"published: {publish(result, Path(args.publish), tiny) / 'report.md'}")
    return 0
