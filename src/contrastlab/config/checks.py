"""The one-line range check every recipe section uses."""

from __future__ import annotations

from contrastlab.errors import ConfigError


def check(ok: bool, key: str, rule: str, value: object) -> None:
    """Raise ``ConfigError("KEY must be RULE, got VALUE")`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{key} must be {rule}, got {value!r}")
