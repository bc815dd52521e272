"""Errors meant for people: the CLI prints their message on one line and exits with code 2."""

from __future__ import annotations


class ContrastlabError(Exception):
    """Bad input from the user (a path, a config key, a value). Its message is shown as is."""


class ConfigError(ContrastlabError):
    """A recipe or override that is unknown, of the wrong type or out of range."""


class DataError(ContrastlabError):
    """A data source that does not exist, is empty, or holds an unreadable file."""


class CheckpointError(ContrastlabError):
    """A checkpoint or run directory that cannot be read or does not match the recipe."""


def error_line(exc: ContrastlabError | OSError) -> str:
    """The one line that tells a person what failed: a ContrastlabError's message, or an
    OSError's reason and the file it names (a failing disk or file system)."""
    if isinstance(exc, ContrastlabError):
        return str(exc)
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"
