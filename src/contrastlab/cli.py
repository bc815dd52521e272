"""The `contrastlab` program: the parser of every command, and one line per error (exit 2).

Each command is a module of `contrastlab.commands` (its parser and what it runs), `reproduce`
one of `contrastlab.reproduce`, which sits above the others because a reproduction runs them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from contrastlab import __version__
from contrastlab.commands import add_commands
from contrastlab.core.errors import ContrastlabError, error_line
from contrastlab.reproduce import command as reproduce_command

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``contrastlab``: every command of `contrastlab.commands`, then reproduce."""
    parser = argparse.ArgumentParser(
        prog="contrastlab",
        description="Contrastive representation learning on images: train, evaluate, diagnose.",
    )
    parser.add_argument("--version", action="version", version=f"contrastlab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_commands(commands)
    reproduce_command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (ContrastlabError, OSError) as exc:  # a disk's failure too: say which file, keep the run
        print(f"contrastlab: error: {error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("contrastlab: interrupted; the last checkpoint is intact", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
