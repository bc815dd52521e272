"""The bounded YAML reader behind recipes and ``--set`` values.

A recipe is a few kilobytes of plain keys and values, so the reader refuses what no recipe needs
and what lets a small file cost unbounded time or memory: anchors and aliases (``&a`` / ``*a``,
the "billion laughs" bomb, where each level of aliases multiplies the tree the loader hands on),
nesting deeper than `MAX_DEPTH` (PyYAML composes recursively and would die with a
RecursionError), and files over `MAX_RECIPE_BYTES`. Each refusal is a one-line `ConfigError`
naming the file (or ``--set`` value) and the line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from yaml.nodes import Node

from contrastlab.core.errors import ConfigError

MAX_RECIPE_BYTES = 1 << 20  # bundled recipes are about 2 KB; a 1 MiB recipe is a mistake
MAX_DEPTH = 32  # recipes nest four levels (method.moco.queue_size, lists of lists at most)


class _RecipeLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 floats (``1e-4`` is a number, not the string '1e-4'),
    refusing anchors, aliases and deep nesting while composing, before anything is built."""

    def __init__(self, text: str, where: str) -> None:
        super().__init__(text)
        self.where = where
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        name = getattr(event, "anchor", None)
        if name is not None:  # an alias event's anchor is the name it refers to
            what = f"alias *{name}" if isinstance(event, yaml.AliasEvent) else f"anchor &{name}"
            raise ConfigError(
                f"{self.where}, line {event.start_mark.line + 1}: YAML {what} is not allowed "
                "(anchors and aliases let a small recipe expand without bound); "
                "write the values out"
            )
        if self.depth >= MAX_DEPTH:
            raise ConfigError(
                f"{self.where}, line {event.start_mark.line + 1}: nested more than {MAX_DEPTH} "
                "levels deep; recipes need a few"
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_yaml(text: str, where: str) -> Any:
    """One YAML document from `text`; `where` names it in errors (a file, or a --set value).

    Raises `ConfigError` for anchors, aliases and deep nesting, `yaml.YAMLError` for bad syntax.
    """
    loader = _RecipeLoader(text, where)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_recipe_text(path: Path) -> str:
    """The text of a recipe file, refused when unreadable, not UTF-8 or over `MAX_RECIPE_BYTES`
    (read no further than that, so a huge or endless file costs nothing)."""
    try:
        with path.open("rb") as handle:
            data = _read_at_most(handle, MAX_RECIPE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read recipe {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_RECIPE_BYTES:
        raise ConfigError(
            f"recipe {path} is larger than {MAX_RECIPE_BYTES // 1024} KiB; recipes are a few KiB"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"recipe {path} is not UTF-8 text (byte {exc.start} cannot be decoded)"
        ) from None


def _read_at_most(handle: BinaryIO, limit: int) -> bytes:
    """Up to `limit` bytes, in small reads (``read(limit)`` would allocate all of `limit` at once,
    and a FIFO or device reports no size to check first)."""
    chunks: list[bytes] = []
    total = 0
    while total < limit and (chunk := handle.read(min(1 << 16, limit - total))):
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)
