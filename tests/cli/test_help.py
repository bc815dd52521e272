"""Every command's --help agrees with the program: the commands, kinds and choices it lists are
the ones registered, so a new method, analysis, protocol or transformation set cannot be left out
of the help text (the help of `analyze --transforms` once omitted `instance`)."""

from __future__ import annotations

import argparse
import importlib
import re

import pytest

from contrastlab.api.analysis_kinds import ANALYSES, DEFAULT_INVARIANCE_SETS, INVARIANCE_SETS
from contrastlab.api.analyze_invariance import SET_BUILDERS
from contrastlab.cli import build_parser, main
from contrastlab.config.evaluation import PROTOCOLS
from contrastlab.core.method_registry import METHODS
from contrastlab.evaluate.embedding_map import MAP_METHODS
from contrastlab.reproduce.paper import PAPERS, SCALES


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (group,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(group.choices)


def option(command: str, dest: str) -> argparse.Action:
    return next(a for a in subcommands()[command]._actions if a.dest == dest)


def listed(text: str) -> list[str]:
    """The comma-separated words of a help text, in order."""
    return re.findall(r"[a-z][a-z+_-]*", text)


def test_the_commands_are_the_registered_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(subcommands()) == ["train", "eval", "embed", "analyze", "recipes", "reproduce"]
    with pytest.raises(SystemExit):
        main(["--help"])
    shown = capsys.readouterr().out
    for name in subcommands():
        assert re.search(rf"^\s+{name}\b", shown, re.MULTILINE), name


def test_train_offers_every_method_and_no_other() -> None:
    action = option("train", "method")
    assert list(action.choices or ()) == list(METHODS)
    assert action.help is not None and listed(action.help.split(":")[-1]) == list(METHODS)


def test_analyze_lists_every_kind_and_each_exists() -> None:
    action = option("analyze", "kind")
    assert action.help is not None and listed(action.help) == list(ANALYSES)
    for kind in ANALYSES:  # each kind is a module with its function
        module = importlib.import_module(f"contrastlab.api.analyze_{kind}")
        assert callable(getattr(module, f"analyze_{kind}"))


def test_invariance_lists_every_transformation_set() -> None:
    help_text = option("analyze", "transforms").help or ""
    offered, default = help_text.split("(default:")
    assert listed(offered.removeprefix("invariance: any of")) == list(INVARIANCE_SETS)
    assert listed(default) == list(DEFAULT_INVARIANCE_SETS) == list(SET_BUILDERS)
    assert set(INVARIANCE_SETS) - set(SET_BUILDERS) == {"instance"}  # built from the data


def test_eval_lists_every_protocol() -> None:
    help_text = (option("eval", "protocol").help or "").split(";")[0]
    assert listed(help_text) == [*PROTOCOLS, "or", "all"]


def test_embed_and_reproduce_choices_are_the_programs() -> None:
    assert list(option("embed", "map_method").choices or ()) == [*MAP_METHODS, "none"]
    assert list(option("reproduce", "scale").choices or ()) == list(SCALES)
    help_text = option("reproduce", "paper").help or ""
    assert "--list" in help_text  # `reproduce --list` prints PAPERS (tests/reproduce)
    assert len(PAPERS) == 8
