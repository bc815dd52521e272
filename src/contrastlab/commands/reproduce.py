"""`contrastlab reproduce PAPER`: rerun a paper's key finding, write its report, print verdicts."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from contrastlab.errors import ConfigError
from contrastlab.reproduce.paper import PAPERS, load_paper

DATASETS_VARIABLE = "CONTRASTLAB_DATASETS"  # where the real-data parts find their files


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


def run_reproduce(args: argparse.Namespace) -> int:
    if args.list:
        for name in PAPERS:
            paper = load_paper(name)
            print(f"{name:14s} {paper.title} ({paper.citation})")
        return 0
    if args.paper is None:
        raise ConfigError(f"name a paper ({', '.join(PAPERS)}) or give --list")
    from contrastlab.report.reproduction_report import verdict_table
    from contrastlab.reproduce.numbers import numbers
    from contrastlab.reproduce.publish import check_publish, publish
    from contrastlab.reproduce.runner import reproduce, tiny_numbers

    datasets = datasets_setting(args.datasets)
    if args.publish:  # a refusal comes now, not after the reproduction's minutes
        check_publish(load_paper(args.paper).name, Path(args.publish))
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
        tiny = numbers(result.root) if args.scale == "tiny" else tiny_numbers(result.paper.name)
        print(f"published: {publish(result, Path(args.publish), tiny) / 'report.md'}")
    return 0
