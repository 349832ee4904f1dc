"""How a poll's outcome changes a feed's state (pure: no I/O, the clock is an argument).

* Success (200, 304 or an unchanged body) resets failures, status `active`, next due after the
  interval `ingest.feeds.feed_schedule` chose.
* Transient failures (timeouts, 5xx, connection errors, ...) back off exponentially from a
  quarter of the feed's interval, capped, with jitter so a dead host shared by many feeds is
  not hit by all of them at once; 429/503 honour Retry-After when it asks for longer.
* Permanent kinds (404/410, an unparseable or non-feed body, a refused address, ...) move the
  feed to `blocked` after `block_after` of them in a row. A blocked feed is probed once a day
  whatever the probe's error, and comes back to `active` by itself on its first success.
* `disabled` is ops' decision (feeds.yaml `enabled: false`): failures never change it.

`describe_change` says in words why a state changed, for the log line every change gets.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ingest.feeds.feed_state import FeedState, FeedStatus

if TYPE_CHECKING:
    from ingest.common.settings import Settings

BLOCK_AFTER = 5
MAX_BACKOFF_S = 6 * 3600
BLOCKED_PROBE_S = 24 * 3600
MIN_BACKOFF_S = 60
JITTER = 0.2  # +-20 %
PERMANENT_KINDS = frozenset({
    "http_400", "http_401", "http_403", "http_404", "http_405", "http_406", "http_410",
    "http_451",
    "parse_error", "not_a_feed", "unsupported_content_type", "refused_private",
    "invalid_url", "unsupported_scheme", "redirect_loop", "too_many_redirects", "bad_redirect",
})


@dataclass(frozen=True)
class HealthPolicy:
    block_after: int = BLOCK_AFTER
    max_backoff_s: int = MAX_BACKOFF_S
    probe_interval_s: int = BLOCKED_PROBE_S

    def __post_init__(self) -> None:
        if self.block_after < 1 or self.max_backoff_s < MIN_BACKOFF_S or self.probe_interval_s < 1:
            raise ValueError(f"invalid health policy {self}")

    @classmethod
    def from_settings(cls, settings: Settings) -> HealthPolicy:
        return cls(
            block_after=settings.feed_block_after,
            max_backoff_s=settings.feed_max_backoff_s,
            probe_interval_s=settings.feed_probe_interval_s,
        )


def is_permanent(kind: str) -> bool:
    return kind in PERMANENT_KINDS


def _status_fields(state: FeedState, status: FeedStatus, now: datetime) -> dict[str, Any]:
    changed = status != state.status or state.status_since is None
    return {"status": status, "status_since": now if changed else state.status_since}


def record_success(
    state: FeedState,
    *,
    now: datetime,
    interval_s: int,
    entries: int,
    produced: int,
    outcome: str = "ok",
) -> FeedState:
    return state.model_copy(
        update={
            "last_attempt": now,
            "last_success": now,
            "last_outcome": outcome,
            "consecutive_failures": 0,
            "permanent_failures": 0,
            **_status_fields(state, "disabled" if state.status == "disabled" else "active", now),
            "interval_s": interval_s,
            "next_due": now + timedelta(seconds=interval_s),
            "entries_seen": state.entries_seen + entries,
            "articles_produced": state.articles_produced + produced,
        }
    )


def record_not_modified(
    state: FeedState, *, now: datetime, interval_s: int, outcome: str = "not_modified"
) -> FeedState:
    return record_success(state, now=now, interval_s=interval_s, entries=0, produced=0,
                          outcome=outcome)


def backoff_seconds(
    failures: int,
    base_s: float,
    rng: random.Random | None = None,
    max_s: float = MAX_BACKOFF_S,
) -> float:
    """base x 2^(failures-1), capped at max_s, then +-JITTER (the jitter may pass the cap)."""
    rng = rng or random.Random()
    raw = min(max_s, base_s * (2 ** min(max(0, failures - 1), 30)))
    return raw * rng.uniform(1 - JITTER, 1 + JITTER)


def record_failure(
    state: FeedState,
    *,
    now: datetime,
    kind: str,
    message: str,
    interval_s: int,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
    policy: HealthPolicy | None = None,
) -> FeedState:
    policy = policy or HealthPolicy()
    failures = state.consecutive_failures + 1
    permanent = state.permanent_failures + 1 if is_permanent(kind) else 0
    delay = backoff_seconds(failures, max(MIN_BACKOFF_S, interval_s // 4), rng,
                            policy.max_backoff_s)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    status: FeedStatus
    if state.status == "disabled":
        status = state.status
    elif state.status == "blocked" or permanent >= policy.block_after:
        # Blocked stays blocked until a probe succeeds, whatever the probe's error.
        status = "blocked"
        delay = max(delay, policy.probe_interval_s)
    else:
        status = "backoff"
    return state.model_copy(
        update={
            "last_attempt": now,
            "last_outcome": "error",
            "last_error_kind": kind,
            "last_error": message[:2000],
            "last_error_at": now,
            "consecutive_failures": failures,
            "permanent_failures": permanent,
            **_status_fields(state, status, now),
            "next_due": now + timedelta(seconds=delay),
        }
    )


def describe_change(before: FeedState | None, after: FeedState) -> str | None:
    """Why `after` differs from `before` in status or URL, in words; None when neither moved."""
    reasons: list[str] = []
    if before is not None and before.url != after.url:
        reasons.append(f"moved permanently from {before.url} to {after.url}")
    old_status = before.status if before is not None else None
    if old_status != after.status:
        if after.status == "active":
            reasons.append(
                "recovered: the daily probe succeeded" if old_status == "blocked"
                else "recovered: poll succeeded" if old_status == "backoff"
                else "first poll succeeded"
            )
        elif after.status == "backoff":
            until = f" until {after.next_due.isoformat()}" if after.next_due else ""
            reasons.append(f"backing off after {after.last_error_kind}: {after.last_error}{until}")
        elif after.status == "blocked":
            reasons.append(
                f"blocked after {after.permanent_failures} permanent failures in a row "
                f"({after.last_error_kind}: {after.last_error}); probed every "
                f"{_duration(after)}"
            )
        else:
            reasons.append(f"status {after.status}")
    return "; ".join(reasons) or None


def _duration(state: FeedState) -> str:
    if state.next_due is None or state.last_attempt is None:
        return "day"
    hours = (state.next_due - state.last_attempt).total_seconds() / 3600
    return f"{hours:g} h"
