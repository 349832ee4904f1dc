"""Which new entries of a feed this poll takes, and which wait for the next polls (pure).

A poll handles at most `bound` new entries (NEWSWATCH_MAX_ENTRIES_PER_FEED): a 252-item feed
first seen must not make one poll fetch 252 pages. The newest go first (analysts want today's
story before last month's); the rest are deferred, not dropped. The poller then forgets the
feed's validators (ETag, Last-Modified, body hash) so that the next poll parses the same body
again instead of calling it "unchanged", and it polls again soon, until the backlog is drained.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.feeds.feed_parse import FeedEntry

_UNDATED = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class EntrySelection:
    take: list[FeedEntry]  # handled by this poll, newest first
    deferred: list[FeedEntry]  # new entries left for the next polls


def newest_first(entries: Sequence[FeedEntry]) -> list[FeedEntry]:
    """Dated entries newest first; undated ones after them, in the feed's own order (a
    stable sort: entries with the same date keep the order the feed gave them)."""
    return sorted(entries, key=lambda e: e.published or _UNDATED, reverse=True)


def select_entries(
    entries: Sequence[FeedEntry],
    seen: Collection[str],
    bound: int,
    key: Callable[[FeedEntry], str],
) -> EntrySelection:
    """Unseen entries (by `key`, the article id), newest first, at most `bound` taken."""
    if bound < 1:
        raise ValueError("bound must be at least 1")
    new = [e for e in newest_first(entries) if key(e) not in seen]
    return EntrySelection(take=new[:bound], deferred=new[bound:])
