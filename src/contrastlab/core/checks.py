"""The one-line range check every recipe section uses, the did-you-mean hint of its errors, and
the checks every number of a recipe passes whatever its key (finite floats, int64 integers)."""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Iterator

from contrastlab.core.errors import ConfigError

INT64 = 2**63  # torch and numpy hold integers in [-2**63, 2**63 - 1]


def check(ok: bool, key: str, rule: str, value: object) -> None:
    """Raise ``ConfigError("KEY must be RULE, got VALUE")`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{key} must be {rule}, got {value!r}")


def did_you_mean(word: str, options: list[str]) -> str:
    """`` (did you mean 'X'?)`` for the option closest to ``word``, or "" when none is close."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_finite(section: object, prefix: str = "") -> None:
    """Every float of a dataclass tree (tuples too) is finite. Run before the range checks: NaN
    fails every comparison and infinity passes ``> 0``, so an infinite lr or temperature would
    otherwise train (to a constant loss) or crash deep inside torch."""
    for key, value, whole in _numbers(section, prefix):
        if isinstance(value, float):
            check(math.isfinite(value), key, "a finite number", whole)


def check_int64(section: object, prefix: str = "") -> None:
    """Every integer of a dataclass tree fits torch's int64. Run after the range checks, which
    say more for the keys that have a tighter bound (train.seed, data.image_size, ...)."""
    for key, value, whole in _numbers(section, prefix):
        if isinstance(value, int):
            check(-INT64 <= value < INT64, key, "an integer of at most 2**63 - 1", whole)


def _numbers(section: object, prefix: str) -> Iterator[tuple[str, int | float, object]]:
    """(dotted key, number, the key's whole value) for every int and float of a dataclass tree,
    inside tuples too; booleans and free-form mappings (data.options) are left to their users."""
    for field in dataclasses.fields(section):  # type: ignore[arg-type]
        value = getattr(section, field.name)
        key = f"{prefix}{field.name}"
        if dataclasses.is_dataclass(value):
            yield from _numbers(value, f"{key}.")
            continue
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, int | float) and not isinstance(item, bool):
                yield key, item, value
