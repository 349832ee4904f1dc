import random
from datetime import UTC, datetime, timedelta

from ingest.feeds.feed_health import (
    BLOCK_AFTER,
    BLOCKED_PROBE_S,
    JITTER,
    HealthPolicy,
    describe_change,
    record_failure,
    record_success,
)
from ingest.feeds.feed_state import FeedState

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


def test_a_transient_error_between_permanent_ones_restarts_the_count() -> None:
    s = state()
    for _ in range(BLOCK_AFTER - 1):
        s = record_failure(s, now=T0, kind="http_404", message="gone", interval_s=900)
    s = record_failure(s, now=T0, kind="http_503", message="busy", interval_s=900)
    s = record_failure(s, now=T0, kind="http_404", message="gone", interval_s=900)
    assert (s.status, s.permanent_failures, s.consecutive_failures) == (
        "backoff", 1, BLOCK_AFTER + 1)


def test_blocked_stays_blocked_whatever_the_probe_error_until_a_success() -> None:
    s = state()
    for _ in range(BLOCK_AFTER):
        s = record_failure(s, now=T0, kind="parse_error", message="junk", interval_s=900)
    assert s.status == "blocked"
    probe = T0 + timedelta(seconds=BLOCKED_PROBE_S)
    s = record_failure(s, now=probe, kind="timeout", message="slow", interval_s=900)
    assert s.status == "blocked"
    assert s.next_due == probe + timedelta(seconds=BLOCKED_PROBE_S)
    assert s.status_since == T0  # blocked since the first time, not since the last probe


def test_disabled_is_never_changed_by_polling() -> None:
    s = state().model_copy(update={"status": "disabled"})
    for _ in range(BLOCK_AFTER + 1):
        s = record_failure(s, now=T0, kind="http_404", message="gone", interval_s=900)
    assert s.status == "disabled"
    assert record_success(s, now=T0, interval_s=900, entries=0, produced=0).status == "disabled"


def test_backoff_is_capped_and_jittered() -> None:
    policy = HealthPolicy(max_backoff_s=3600)
    delays = set()
    for seed in range(20):
        s = state().model_copy(update={"consecutive_failures": 40})
        s = record_failure(s, now=T0, kind="timeout", message="slow", interval_s=900,
                           rng=random.Random(seed), policy=policy)
        assert s.next_due is not None
        delays.add((s.next_due - T0).total_seconds())
    assert all(3600 * (1 - JITTER) <= d <= 3600 * (1 + JITTER) for d in delays)
    assert len(delays) > 10  # jittered: feeds of a dead host do not come back in lockstep


def test_status_changes_are_described_with_their_reason() -> None:
    s = state()
    failed = record_failure(s, now=T0, kind="http_503", message="HTTP 503", interval_s=900)
    reason = describe_change(s, failed)
    assert reason is not None and reason.startswith("backing off after http_503: HTTP 503")
    assert describe_change(failed, record_failure(failed, now=T0, kind="http_503",
                                                  message="HTTP 503", interval_s=900)) is None
    blocked = failed
    for _ in range(BLOCK_AFTER):
        blocked = record_failure(blocked, now=T0, kind="http_410", message="HTTP 410",
                                 interval_s=900)
    assert "blocked after 5 permanent failures in a row (http_410: HTTP 410)" in (
        describe_change(failed, blocked) or "")
    back = record_success(blocked, now=T0, interval_s=900, entries=1, produced=1)
    assert describe_change(blocked, back) == "recovered: the daily probe succeeded"
    moved = back.model_copy(update={"url": "https://y.example/f"})
    assert describe_change(back, moved) == (
        "moved permanently from https://x.example/f to https://y.example/f")


def test_policy_from_settings() -> None:
    from ingest.common.settings import Settings

    assert HealthPolicy.from_settings(Settings(_env_file=None)) == HealthPolicy()  # type: ignore[call-arg]
    custom = Settings(_env_file=None, feed_block_after=3, feed_max_backoff_s=600,  # type: ignore[call-arg]
                      feed_probe_interval_s=3600)
    assert HealthPolicy.from_settings(custom) == HealthPolicy(3, 600, 3600)
