from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.fetch.retry_after import MAX_RETRY_AFTER_S, parse_retry_after

NOW = datetime(2025, 7, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Tue, 01 Jul 2025 12:05:00 GMT", 300.0),
        ("Tuesday, 01-Jul-25 12:00:30 GMT", 30.0),  # RFC 850 form
        ("Tue Jul  1 12:01:00 2025", 60.0),  # asctime form
        ("Tue, 01 Jul 2025 11:00:00 GMT", 0.0),  # in the past: come back now
        ("999999999", MAX_RETRY_AFTER_S),
        ("Fri, 01 Jul 2033 12:00:00 GMT", MAX_RETRY_AFTER_S),
    ],
)
def test_seconds_and_dates(value: str, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "Someday, 99 Foo 2025"])
def test_unreadable_values_are_none(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None
