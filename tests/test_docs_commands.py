"""Every `contrastlab` command shown in the user guide is one the program accepts.

The commands are read from the ```bash / ```sh / ```console blocks of README.md, docs/*.md and
benchmarks/README.md (lines continued with a backslash are joined, `# comments` dropped, shell
variables set in the same block substituted, `for NAME in ...; do` loops unrolled). Each must
parse with the program's own argument parser; a bundled recipe it names (`--recipe NAME`, or
`train METHOD`'s CPU recipe) must exist; a `train` command's recipe, with its `--set` overrides
and short flags, must load and validate. Only parsing and validation run: nothing is trained.
"""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks/README.md"]
SHELL_BLOCKS = ("bash", "sh", "console", "shell")
MIN_COMMANDS = 30

_FENCE = re.compile(r"^\s*```\s*(\S*)")
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_FOR = re.compile(r"^for ([A-Za-z_][A-Za-z0-9_]*) in (.+?);\s*do$")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
# the short flags of `train` and the recipe keys they set (cli.py's help says which)
_SHORT_FLAGS = {
    "data": "data.source",
    "eval_data": "data.eval_source",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "seed": "train.seed",
    "device": "train.device",
    "on_bad_image": "data.on_bad_image",
    "lr_scaling": "optim.lr_scaling",
    "sync_bn": "train.sync_bn",
}


@dataclass(frozen=True)
class DocCommand:
    where: str  # FILE:LINE of the command's first line
    line: str  # the command, variables substituted
    unresolved: tuple[str, ...]  # shell variables no assignment in its block sets


def _logical_lines(block: list[tuple[int, str]], console: bool) -> list[tuple[int, str]]:
    """Join lines ending in a backslash; keep the number of the first. In a console block only
    the lines after a `$ ` prompt are commands (the others are what they printed)."""
    joined: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, text in block:
        start, sofar = pending if pending else (number, "")
        piece = text.strip()
        if piece.startswith("$ "):  # a console prompt
            piece = piece[2:]
        elif console and pending is None:
            continue
        if piece.endswith("\\"):
            pending = (start, f"{sofar}{piece[:-1]} ")
            continue
        pending = None
        joined.append((start, f"{sofar}{piece}"))
    if pending:
        joined.append(pending)
    return joined


def _substitute(text: str, variables: dict[str, str]) -> str:
    """`text` with each ``$NAME`` / ``${NAME}`` that `variables` sets replaced by its value."""

    def value(match: re.Match[str]) -> str:
        return variables.get(match.group(1) or match.group(2), match.group(0))

    return _VAR.sub(value, text)


def _words(text: str) -> list[str]:
    return shlex.split(text, comments=True)


def _commands_in_block(path: Path, block: list[tuple[int, str]], console: bool) -> list[DocCommand]:
    variables: dict[str, str] = {}
    loops: list[tuple[str, list[str]]] = []  # the enclosing `for NAME in VALUES; do`
    found: list[DocCommand] = []
    for number, text in _logical_lines(block, console):
        try:
            words = _words(text)
        except ValueError:  # not shell (e.g. an unbalanced quote in prose-like output)
            continue
        if not words:
            continue
        loop = _FOR.match(text.split("#", 1)[0].strip())
        if loop:
            loops.append((loop.group(1), _words(loop.group(2))))
            continue
        if words == ["done"]:
            loops = loops[:-1]
            continue
        assign = _ASSIGN.match(words[0]) if len(words) == 1 else None
        if assign:
            variables[assign.group(1)] = _substitute(assign.group(2), variables)
            continue
        expansions = [dict(variables)]  # one per value of each enclosing loop's variable
        for name, values in loops:
            expansions = [{**env, name: value} for env in expansions for value in values]
        for env in expansions:
            rest = _words(_substitute(text, env))
            missing = sorted({m.group(1) or m.group(2) for w in rest for m in _VAR.finditer(w)})
            while rest and _ASSIGN.match(rest[0]):  # VAR=value before the command
                rest = rest[1:]
            if rest[:1] == ["torchrun"] and "-m" in rest:  # torchrun ... -m contrastlab ARGS
                rest = rest[rest.index("-m") + 1 :]
            if rest[:1] != ["contrastlab"]:
                continue
            unrolled = ",".join(f"{name}={env[name]}" for name, _ in loops)
            where = f"{path.relative_to(ROOT)}:{number}" + (f"[{unrolled}]" if unrolled else "")
            found.append(DocCommand(where, shlex.join(rest), tuple(missing)))
    return found


def doc_commands() -> list[DocCommand]:
    commands: list[DocCommand] = []
    for path in GUIDE:
        if not path.exists():
            continue
        inside = False  # within a fenced block
        block: list[tuple[int, str]] | None = None  # the lines of a shell block
        console = False
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            fence = _FENCE.match(text)
            if fence and not inside:
                inside = True
                language = fence.group(1).lower()
                block = [] if language in SHELL_BLOCKS else None
                console = language == "console"
            elif fence:
                inside = False
                if block is not None:
                    commands += _commands_in_block(path, block, console)
                block = None
            elif block is not None:
                block.append((number, text))
    return commands


COMMANDS = doc_commands()


def test_the_guide_shows_enough_commands() -> None:
    """The collector finds the guide's commands (so the checks below cannot pass on nothing)."""
    assert len(COMMANDS) >= MIN_COMMANDS, [c.where for c in COMMANDS]
    files = {c.where.split(":")[0] for c in COMMANDS}
    assert "README.md" in files


def _parse(command: DocCommand) -> argparse.Namespace:
    from contrastlab.cli import build_parser

    if command.unresolved:
        pytest.skip(f"shell variables {', '.join(command.unresolved)} are set nowhere in the block")
    argv = _words(command.line)[1:]
    try:
        return build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{command.where}: `{command.line}` does not parse (exit {exc.code})")


def _bundled(name: str) -> bool:
    return not name.endswith((".yaml", ".yml"))  # a YAML file of the user's own


@pytest.mark.parametrize("command", COMMANDS, ids=[c.where for c in COMMANDS])
def test_command_parses(command: DocCommand) -> None:
    args = _parse(command)
    if args.command != "train":
        return
    from contrastlab.config import METHOD_RECIPES, list_recipes

    recipes = {path.stem for path in list_recipes()}
    if args.recipe is not None and _bundled(args.recipe):
        assert args.recipe.removesuffix(".yaml") in recipes, (
            f"{command.where}: no bundled recipe {args.recipe!r}"
        )
    if args.method is not None:
        assert METHOD_RECIPES[args.method] in recipes, f"{command.where}: {args.method}"


@pytest.mark.parametrize("command", COMMANDS, ids=[c.where for c in COMMANDS])
def test_train_recipe_validates(command: DocCommand) -> None:
    """A `train` command's recipe with its overrides loads and passes validation (unknown keys,
    types and ranges are refused there), as `contrastlab train` checks it before any work."""
    args = _parse(command)
    if args.command != "train" or args.resume is not None:
        return
    if args.recipe is not None and not _bundled(args.recipe):
        pytest.skip("a recipe file of the user's own")
    from contrastlab.config import DEFAULT_RECIPE, METHOD_RECIPES, load_recipe, parse_override

    name = args.recipe or (METHOD_RECIPES[args.method] if args.method else DEFAULT_RECIPE)
    overrides = [parse_override(text) for text in args.set or []]
    overrides += [
        (key, getattr(args, flag))
        for flag, key in _SHORT_FLAGS.items()
        if getattr(args, flag, None) is not None
    ]
    try:
        load_recipe(name, overrides)
    except Exception as exc:  # ConfigError / DataError: one line naming the key
        pytest.fail(f"{command.where}: `{command.line}`: {exc}")
