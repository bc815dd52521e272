"""The `contrastlab` commands below `reproduce`: one module per command, each with its parser
(``add_parser``) and what it runs (``run``: read the arguments, call `contrastlab.api`, print).

The parsers import nothing heavy, so ``contrastlab --help`` starts without torch; each ``run``
imports what it needs. `run_command` runs one command line in this process: what a
reproduction's steps do (`contrastlab.reproduce.workspace`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from contrastlab.commands import analyze, embed, evaluate, recipes, train

__all__ = ["COMMANDS", "add_commands", "run_command"]

COMMANDS = (train, evaluate, embed, analyze, recipes)  # in the order `--help` lists them


def add_commands(subparsers: Any) -> None:
    """Add every command of `COMMANDS` to ``subparsers``."""
    for command in COMMANDS:
        command.add_parser(subparsers)


def run_command(argv: Sequence[str]) -> int:
    """Run ``argv`` (a command line without the program's name, e.g. ``["eval", "runs/x"]``)
    in this process; errors propagate as exceptions (the CLI turns them into messages)."""
    parser = argparse.ArgumentParser(prog="contrastlab")
    add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(list(argv))
    code: int = args.func(args)
    return code
