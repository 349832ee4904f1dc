"""Read a Retry-After header (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.

A 429 or 503 that says when to come back is the politest signal a server can give; the poller
waits at least that long. Pure, with `now` passed in so dates can be tested.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# A date years ahead is a broken server, not a schedule: cap what it can impose.
MAX_RETRY_AFTER_S = 7 * 24 * 3600.0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait, clamped to [0, MAX_RETRY_AFTER_S]; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    seconds = (when - current).total_seconds()
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))
