"""Durations as ops write them in alerts.yaml: `45s`, `30m`, `6h`, `2d`, `1w`, or `1h30m`.

A bare number is refused: "30" could mean seconds or minutes, and a realert window off by a
factor of sixty floods a channel or silences it.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)\s*([smhdw])")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$")


def parse_duration(text: str) -> timedelta:
    """`"1h30m"` → 1:30:00. Raises ValueError with the accepted forms."""
    if not isinstance(text, str) or not _WHOLE.match(text.lower()):
        raise ValueError(
            f"{text!r} is not a duration: write a number and a unit, e.g. 45s, 30m, 6h, 2d, 1w"
        )
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(text.lower()))
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration must be longer than zero")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The inverse of parse_duration, largest units first (`timedelta(minutes=90)` → `1h30m`)."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if unit == "w" and seconds % size:
            continue  # 10d reads better than 1w3d
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
