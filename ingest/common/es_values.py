"""Elasticsearch time and byte-size values in settings, checked when the settings load so a
typo fails at start-up with the variable's name rather than at the first rollover request."""

from __future__ import annotations

import re

_AGE = re.compile(r"^[1-9][0-9]*(d|h|m|s)$")
_SIZE = re.compile(r"^[1-9][0-9]*(b|kb|mb|gb|tb|pb)$")


def check_age(value: str) -> str:
    """Whole days, hours, minutes or seconds ("30d")."""
    if not _AGE.match(value):
        raise ValueError(f"{value!r} is not an age like 30d, 12h, 90m or 3600s")
    return value


def check_size(value: str) -> str:
    """A byte size ("50gb"), lower-cased."""
    if not _SIZE.match(value.lower()):
        raise ValueError(f"{value!r} is not a size like 50gb, 500mb or 1tb")
    return value.lower()
