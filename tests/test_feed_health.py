import random
from datetime import UTC, datetime, timedelta

from ingest.feed_health import (
    BLOCK_AFTER,
    BLOCKED_PROBE_S,
    record_failure,
    record_success,
)
from ingest.feed_state import FeedState

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def state() -> FeedState:
    return FeedState(name="f", url="https://x.example/f", configured_url="https://x.example/f")


def test_failures_back_off_exponentially_and_success_resets() -> None:
    s = state()
    delays = []
    for i in range(4):
        now = T0 + timedelta(hours=i)
        s = record_failure(s, now=now, kind="timeout", message="slow", interval_s=900,
                           rng=random.Random(1))
        assert s.next_due is not None
        delays.append((s.next_due - now).total_seconds())
    assert s.status == "backoff" and s.consecutive_failures == 4
    assert delays == sorted(delays) and delays[-1] > 4 * delays[0]
    s = record_success(s, now=T0, interval_s=900, entries=3, produced=2)
    assert (s.status, s.consecutive_failures, s.articles_produced) == ("active", 0, 2)


def test_retry_after_is_honoured_when_longer() -> None:
    s = record_failure(state(), now=T0, kind="http_429", message="slow down", interval_s=900,
                       retry_after_s=7200, rng=random.Random(1))
    assert s.next_due == T0 + timedelta(seconds=7200)


def test_permanent_errors_block_after_threshold_then_probe_daily() -> None:
    s = state()
    for _ in range(BLOCK_AFTER - 1):
        s = record_failure(s, now=T0, kind="http_404", message="gone", interval_s=900)
        assert s.status == "backoff"
    s = record_failure(s, now=T0, kind="http_404", message="gone", interval_s=900)
    assert s.status == "blocked"
    assert s.next_due == T0 + timedelta(seconds=BLOCKED_PROBE_S)
    assert s.last_error_kind == "http_404"
    back = record_success(s, now=T0, interval_s=900, entries=1, produced=1)
    assert back.status == "active"


def test_transient_errors_never_block() -> None:
    s = state()
    for _ in range(BLOCK_AFTER * 3):
        s = record_failure(s, now=T0, kind="timeout", message="slow", interval_s=900)
    assert s.status == "backoff"
