"""The one-line range check every recipe section uses, and the did-you-mean hint of its errors."""

from __future__ import annotations

import difflib

from contrastlab.errors import ConfigError


def check(ok: bool, key: str, rule: str, value: object) -> None:
    """Raise ``ConfigError("KEY must be RULE, got VALUE")`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{key} must be {rule}, got {value!r}")


def did_you_mean(word: str, options: list[str]) -> str:
    """`` (did you mean 'X'?)`` for the option closest to ``word``, or "" when none is close."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
