from datetime import UTC, datetime, timedelta

import pytest

from ingest.feeds.feed_schedule import (
    Floor,
    PublishingStats,
    SchedulePolicy,
    next_interval,
    parse_max_age,
    publishing_stats,
    requested_floor,
    syndication_period_s,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
POLICY = SchedulePolicy(default_interval_s=900, min_interval_s=300, max_interval_s=6 * 3600)


def every(minutes: float, count: int, newest_age_min: float = 0) -> list[datetime]:
    newest = NOW - timedelta(minutes=newest_age_min)
    return [newest - timedelta(minutes=minutes * i) for i in range(count)]


def test_a_busy_feed_is_polled_at_the_floor_of_the_bounds() -> None:
    stats = publishing_stats(every(2, 20), NOW)
    assert stats.gap_s == pytest.approx(120)
    assert next_interval(POLICY, stats, NOW) == 300


def test_interval_follows_the_publishing_gap() -> None:
    stats = publishing_stats(every(60, 10), NOW)
    assert next_interval(POLICY, stats, NOW) == 1800  # half the hourly gap


def test_a_quiet_feed_drifts_to_the_upper_bound_while_silent() -> None:
    hourly = publishing_stats(every(60, 10), NOW)
    assert next_interval(POLICY, hourly, NOW + timedelta(hours=3)) == 3 * 3600 // 2
    assert next_interval(POLICY, hourly, NOW + timedelta(days=3)) == 6 * 3600


def test_bursts_do_not_read_as_a_busy_feed() -> None:
    # ten items published in the same minute, once a day: the mean gap says ~2.7 h
    burst = [NOW - timedelta(days=d, seconds=s) for d in range(2) for s in range(5)]
    stats = publishing_stats(burst, NOW)
    assert stats.gap_s is not None and stats.gap_s > 2 * 3600
    assert next_interval(POLICY, stats, NOW) > 3600


def test_undated_and_future_entries_are_not_evidence() -> None:
    assert publishing_stats([None, None], NOW) == PublishingStats(None, None)
    future = [NOW + timedelta(days=30), NOW + timedelta(days=31)]
    assert publishing_stats([*future, None], NOW) == PublishingStats(None, None)
    assert next_interval(POLICY, PublishingStats(None, None), NOW) == 900


def test_one_dated_entry_never_polls_faster_than_the_default() -> None:
    stats = publishing_stats([NOW - timedelta(minutes=1)], NOW)
    assert stats == PublishingStats(NOW - timedelta(minutes=1), None)
    assert next_interval(POLICY, stats, NOW) == 900
    assert next_interval(POLICY, stats, NOW + timedelta(hours=10, minutes=-1)) == 5 * 3600


def test_only_the_recent_entries_count() -> None:
    # an archive feed: 20 recent items every 10 minutes, then years of history
    recent = every(10, 20)
    old = [NOW - timedelta(days=400 + i) for i in range(100)]
    assert publishing_stats(recent + old, NOW).gap_s == pytest.approx(600)


def test_the_feeds_floor_wins_over_our_estimate_and_the_upper_bound() -> None:
    busy = publishing_stats(every(2, 20), NOW)
    assert next_interval(POLICY, busy, NOW, Floor(3600, "rss ttl")) == 3600
    assert next_interval(POLICY, busy, NOW, Floor(12 * 3600, "rss ttl")) == 12 * 3600
    # ... but a floor of a year is capped at a day
    assert next_interval(POLICY, busy, NOW, Floor(365 * 86400, "sy:updatePeriod")) == 86400
    # a floor below our estimate changes nothing
    hourly = publishing_stats(every(60, 10), NOW)
    assert next_interval(POLICY, hourly, NOW, Floor(60, "cache-control max-age")) == 1800


@pytest.mark.parametrize(("header", "seconds"), [
    ("max-age=600", 600.0),
    ("public, max-age=1800, must-revalidate", 1800.0),
    ('MAX-AGE="120"', 120.0),
    ("s-maxage=900", None),
    ("no-cache, max-age=600", None),
    ("no-store", None),
    ("", None),
    (None, None),
])
def test_max_age(header: str | None, seconds: float | None) -> None:
    assert parse_max_age(header) == seconds


@pytest.mark.parametrize(("period", "frequency", "seconds"), [
    ("hourly", "1", 3600.0),
    ("hourly", "2", 1800.0),
    (" Daily ", None, 86400.0),
    ("weekly", "7", 86400.0),
    ("hourly", "zero", 3600.0),
    ("hourly", "0", 3600.0),
    ("fortnightly", "1", None),
    (None, "2", None),
])
def test_syndication_period(period: str | None, frequency: str | None,
                            seconds: float | None) -> None:
    assert syndication_period_s(period, frequency) == seconds


def test_requested_floor_is_the_largest_stated() -> None:
    assert requested_floor() is None
    assert requested_floor(ttl_minutes=30, cache_control="max-age=60") == Floor(1800, "rss ttl")
    assert requested_floor(ttl_minutes=30, update_period="hourly", update_frequency="1") \
        == Floor(3600, "sy:updatePeriod")
    assert requested_floor(ttl_minutes=0, cache_control="max-age=7200") \
        == Floor(7200, "cache-control max-age")


def test_policy_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="min_interval_s"):
        SchedulePolicy(default_interval_s=60, min_interval_s=300, max_interval_s=3600)


def test_policy_from_settings() -> None:
    from ingest.common.settings import Settings

    custom = Settings(_env_file=None, poll_interval_s=600, poll_min_interval_s=120,  # type: ignore[call-arg]
                      poll_max_interval_s=7200, poll_publish_factor=0.25)
    assert SchedulePolicy.from_settings(custom) == SchedulePolicy(
        default_interval_s=600, min_interval_s=120, max_interval_s=7200, publish_factor=0.25)
    with pytest.raises(ValueError, match="POLL_MIN_INTERVAL_S"):
        Settings(_env_file=None, poll_interval_s=60)  # type: ignore[call-arg]
