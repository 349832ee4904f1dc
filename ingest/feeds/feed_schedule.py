"""When to poll a healthy feed next (pure: no I/O, `now` is an argument).

A fixed interval is wrong both ways: a wire service publishing every few minutes is read late,
and a blog that posts monthly is asked 3,000 times for nothing. So the interval follows how
often the feed really publishes, between configurable bounds:

* publishing gap: the mean gap between the dated entries the feed shows (its span divided by
  the gaps in it; a median would read 0 for feeds that publish in bursts). While the feed says
  nothing new, the silence since its newest entry is a lower bound on the gap, so a feed that
  stopped publishing drifts toward the upper bound by itself, without needing a new body;
* interval = gap x `publish_factor` (0.5: about two looks per publication), clamped to
  [`min_interval_s`, `max_interval_s`]; no dated entries -> `default_interval_s`;
* the feed's own floor wins over our estimate, even over `max_interval_s`: RSS `<ttl>`,
  `sy:updatePeriod` / `sy:updateFrequency`, `Cache-Control: max-age`. A floor is capped at
  `floor_cap_s` (a day) because a misconfigured "yearly" or `max-age` of a year would otherwise
  hide a feed for good; a day is the cadence of the blocked-feed probe too.

Errors (Retry-After included) are graded by `ingest.feeds.feed_health`, not here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.common.settings import Settings

# sy:updatePeriod values (RSS 1.0 syndication module); monthly/yearly as 30/365 days.
SYNDICATION_PERIODS_S: dict[str, int] = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}
# Entries dated further ahead than this are clock-skewed or scheduled posts: not evidence.
FUTURE_SKEW = timedelta(hours=1)
# The newest entries say how a feed publishes now; old ones in an archive feed do not.
RECENT_ENTRIES = 20
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)
_NO_REUSE = re.compile(r"(?:^|[,\s])(?:no-cache|no-store)(?:$|[,\s=])", re.IGNORECASE)


@dataclass(frozen=True)
class SchedulePolicy:
    default_interval_s: int = 900
    min_interval_s: int = 300
    max_interval_s: int = 6 * 3600
    publish_factor: float = 0.5
    floor_cap_s: int = 24 * 3600

    def __post_init__(self) -> None:
        if not 0 < self.min_interval_s <= self.default_interval_s <= self.max_interval_s:
            raise ValueError(
                "need 0 < min_interval_s <= default_interval_s <= max_interval_s, got "
                f"{self.min_interval_s}, {self.default_interval_s}, {self.max_interval_s}"
            )
        if self.publish_factor <= 0:
            raise ValueError("publish_factor must be > 0")

    @classmethod
    def from_settings(cls, settings: Settings) -> SchedulePolicy:
        return cls(
            default_interval_s=settings.poll_interval_s,
            min_interval_s=settings.poll_min_interval_s,
            max_interval_s=settings.poll_max_interval_s,
            publish_factor=settings.poll_publish_factor,
        )


@dataclass(frozen=True)
class Floor:
    """The shortest interval a feed asks for, and which signal asked."""

    seconds: float
    source: str


@dataclass(frozen=True)
class PublishingStats:
    newest_entry_at: datetime | None
    gap_s: float | None  # mean gap between the feed's recent dated entries


def parse_max_age(cache_control: str | None) -> float | None:
    """`max-age` of a Cache-Control header, unless the response forbids reuse."""
    if not cache_control or _NO_REUSE.search(cache_control):
        return None
    match = _MAX_AGE.search(cache_control)
    return float(match.group(1)) if match else None


def syndication_period_s(period: str | None, frequency: str | int | None) -> float | None:
    """sy:updatePeriod / sy:updateFrequency: "hourly" and 2 mean every 30 minutes."""
    if not period:
        return None
    seconds = SYNDICATION_PERIODS_S.get(period.strip().lower())
    if seconds is None:
        return None
    try:
        times = int(str(frequency).strip()) if frequency is not None else 1
    except ValueError:
        times = 1
    return seconds / times if times >= 1 else float(seconds)


def requested_floor(
    *,
    ttl_minutes: int | None = None,
    update_period: str | None = None,
    update_frequency: str | int | None = None,
    cache_control: str | None = None,
) -> Floor | None:
    """The largest of the floors the feed states, or None when it states none."""
    candidates: list[Floor] = []
    if ttl_minutes is not None and ttl_minutes > 0:
        candidates.append(Floor(ttl_minutes * 60.0, "rss ttl"))
    syndication = syndication_period_s(update_period, update_frequency)
    if syndication is not None:
        candidates.append(Floor(syndication, "sy:updatePeriod"))
    max_age = parse_max_age(cache_control)
    if max_age is not None and max_age > 0:
        candidates.append(Floor(max_age, "cache-control max-age"))
    return max(candidates, key=lambda f: f.seconds, default=None)


def publishing_stats(published: Iterable[datetime | None], now: datetime) -> PublishingStats:
    """How often the feed publishes, from its entries' dates (undated entries say nothing)."""
    dates = sorted({d for d in published if d is not None and d <= now + FUTURE_SKEW},
                   reverse=True)[:RECENT_ENTRIES]
    if not dates:
        return PublishingStats(None, None)
    if len(dates) < 2:
        return PublishingStats(dates[0], None)
    span = (dates[0] - dates[-1]).total_seconds()
    return PublishingStats(dates[0], span / (len(dates) - 1))


def next_interval(
    policy: SchedulePolicy, stats: PublishingStats, now: datetime, floor: Floor | None = None
) -> int:
    """Seconds until the next poll of a feed that answered (200, 304 or an unchanged body)."""
    if stats.gap_s is None and stats.newest_entry_at is None:
        interval = float(policy.default_interval_s)
    else:
        gap = stats.gap_s or 0.0
        if stats.newest_entry_at is not None:
            gap = max(gap, (now - stats.newest_entry_at).total_seconds())
        interval = gap * policy.publish_factor
        if stats.gap_s is None:  # one dated entry: its age is all we know; never poll faster
            interval = max(interval, policy.default_interval_s)
        interval = min(max(interval, policy.min_interval_s), policy.max_interval_s)
    if floor is not None:
        interval = max(interval, min(floor.seconds, policy.floor_cap_s))
    return round(interval)
