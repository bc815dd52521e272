"""Checking the source-specific keyword options passed to `open_source`.

Each reader declares the options it understands, with their defaults; `resolve_options` merges the
user's options over them and rejects unknown names, so a typo (``n_trian``) fails loudly instead
of being silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral
from typing import Any

from contrastlab.core.errors import DataError


def resolve_options(
    options: Mapping[str, Any] | None, defaults: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """`defaults` updated with `options`; DataError naming an unknown option and the valid ones."""
    given = dict(options) if options else {}
    for key in given:
        if key not in defaults:
            valid = ", ".join(sorted(defaults)) if defaults else "none, it takes no options"
            raise DataError(f"unknown option {key!r} for data source {where} (valid: {valid})")
    return {**defaults, **given}


def int_option(options: Mapping[str, Any], key: str, minimum: int, where: str) -> int:
    """The integer option `key`, at least `minimum`; DataError naming option and value if not."""
    value = options[key]
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < minimum:
        raise DataError(
            f"option {key}={value!r} for data source {where} must be an integer >= {minimum}"
        )
    return int(value)


def choice_option(options: Mapping[str, Any], key: str, choices: Sequence[str], where: str) -> str:
    """The string option `key`, one of `choices`; DataError listing the choices if not."""
    value = options[key]
    if value not in choices:
        raise DataError(
            f"option {key}={value!r} for data source {where} must be one of: {', '.join(choices)}"
        )
    return str(value)
