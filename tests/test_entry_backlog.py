"""Which new entries a poll takes and which wait (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.feeds.feed_parse import FeedEntry
from ingest.poll.entry_backlog import newest_first, select_entries

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def entry(n: int, *, dated: bool = True) -> FeedEntry:
    return FeedEntry(link=f"https://x.example/{n}", title=f"t{n}", guid=None,
                     published=T0 + timedelta(hours=n) if dated else None,
                     author=None, summary=None, content=None)


def key(e: FeedEntry) -> str:
    return e.link


def test_newest_are_taken_first_and_the_rest_deferred() -> None:
    feed = [entry(n) for n in (3, 9, 1, 7, 5)]  # not in date order
    chosen = select_entries(feed, seen=set(), bound=2, key=key)
    assert [e.title for e in chosen.take] == ["t9", "t7"]
    assert [e.title for e in chosen.deferred] == ["t5", "t3", "t1"]


def test_seen_entries_do_not_count_against_the_bound() -> None:
    feed = [entry(n) for n in range(10, 0, -1)]
    seen = {e.link for e in feed[:4]}  # the four newest were ingested by earlier polls
    chosen = select_entries(feed, seen=seen, bound=3, key=key)
    assert [e.title for e in chosen.take] == ["t6", "t5", "t4"]
    assert [e.title for e in chosen.deferred] == ["t3", "t2", "t1"]


def test_undated_entries_come_after_dated_ones_in_feed_order() -> None:
    feed = [entry(1, dated=False), entry(2), entry(3, dated=False), entry(4)]
    assert [e.title for e in newest_first(feed)] == ["t4", "t2", "t1", "t3"]


def test_nothing_deferred_within_the_bound() -> None:
    chosen = select_entries([entry(1), entry(2)], seen=set(), bound=5, key=key)
    assert len(chosen.take) == 2 and chosen.deferred == []


def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        select_entries([entry(1)], seen=set(), bound=0, key=key)
