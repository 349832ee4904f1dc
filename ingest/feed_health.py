"""How a poll's outcome changes a feed's state (pure: no I/O, the clock is an argument).

* Success resets failures, status `active`, next due after the feed's interval.
* Failures back off exponentially (capped), with jitter so a dead host shared by many feeds
  is not hit by all of them at once; 429/503 honour Retry-After when it asks for longer.
* Permanent kinds (404/410, unparseable body, refused address) move to `blocked` after
  BLOCK_AFTER consecutive failures; a blocked feed is probed once a day and comes back to
  `active` by itself on its first success.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from ingest.feed_state import FeedState

BLOCK_AFTER = 5
MAX_BACKOFF_S = 6 * 3600
BLOCKED_PROBE_S = 24 * 3600
PERMANENT_KINDS = frozenset({"http_404", "http_410", "parse_error", "refused_private", "not_a_feed"})


def record_success(
    state: FeedState, *, now: datetime, interval_s: int, entries: int, produced: int
) -> FeedState:
    return state.model_copy(
        update={
            "last_attempt": now,
            "last_success": now,
            "consecutive_failures": 0,
            "status": "active",
            "interval_s": interval_s,
            "next_due": now + timedelta(seconds=interval_s),
            "entries_seen": state.entries_seen + entries,
            "articles_produced": state.articles_produced + produced,
        }
    )


def backoff_seconds(failures: int, base_s: int, rng: random.Random | None = None) -> float:
    rng = rng or random.Random()
    raw = min(MAX_BACKOFF_S, base_s * (2 ** max(0, failures - 1)))
    return raw * rng.uniform(0.8, 1.2)


def record_failure(
    state: FeedState,
    *,
    now: datetime,
    kind: str,
    message: str,
    interval_s: int,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> FeedState:
    failures = state.consecutive_failures + 1
    delay = backoff_seconds(failures, max(60, interval_s // 4), rng)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    status = state.status
    if kind in PERMANENT_KINDS and failures >= BLOCK_AFTER:
        status = "blocked"
        delay = BLOCKED_PROBE_S
    elif status != "disabled":
        status = "backoff"
    return state.model_copy(
        update={
            "last_attempt": now,
            "last_error_kind": kind,
            "last_error": message[:2000],
            "last_error_at": now,
            "consecutive_failures": failures,
            "status": status,
            "next_due": now + timedelta(seconds=delay),
        }
    )


def record_not_modified(state: FeedState, *, now: datetime, interval_s: int) -> FeedState:
    return record_success(state, now=now, interval_s=interval_s, entries=0, produced=0)
