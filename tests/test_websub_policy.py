"""How WebSub subscriptions move (pure): lease math, what the maintenance loop does when,
what a verification may confirm, and the fallback to polling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.websub.websub_callback import callback_path, parse_callback_path
from ingest.websub.websub_discovery import Discovery
from ingest.websub.websub_policy import (
    WebSubPolicy,
    after_denied,
    after_missed,
    after_request,
    after_verified,
    after_verify_timeout,
    before_request,
    is_pushing,
    next_action,
    poll_interval,
    rediscovered,
    renew_at,
    renewal_margin_s,
    renewal_rotates,
    verification_accepted,
)
from ingest.websub.websub_state import Subscription

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = WebSubPolicy(lease_s=864000, verify_timeout_s=300, retry_s=600, max_retry_s=7200,
                      denied_retry_s=86400, push_poll_interval_s=21600)


def _sub(**update: object) -> Subscription:
    base = Subscription(feed="f", hub="https://hub.example/", topic="https://x.example/feed",
                        discovery_source="feed", callback_token="tok", secret="sec",
                        status_since=T0)
    return base.model_copy(update=update)


def _active(lease_s: int = 864000, at: datetime = T0) -> Subscription:
    sub = after_verified(before_request(_sub(), "subscribe", at), "subscribe", lease_s, at,
                         POLICY)
    assert sub is not None
    return sub


@pytest.mark.parametrize(("lease_s", "margin_s"), [
    (864000, 86400.0),  # 10 days: a tenth, a day early
    (7200, 3600.0),  # 2 hours: at least an hour
    (3600, 1800.0),  # 1 hour: never more than half
    (10, 5.0),
])
def test_renewal_margin(lease_s: int, margin_s: float) -> None:
    assert renewal_margin_s(lease_s) == margin_s
    assert renew_at(T0, lease_s) == T0 + timedelta(seconds=lease_s - margin_s)


def test_discovered_is_subscribed_then_waits_for_verification() -> None:
    sub = _sub()
    assert next_action(sub, now=T0, configured=True, policy=POLICY) == "subscribe"
    sent = before_request(sub, "subscribe", T0)
    pending = after_request(sent, "subscribe", accepted=True, reason="HTTP 202", now=T0,
                            policy=POLICY)
    assert pending.status == "pending"
    assert next_action(pending, now=T0 + timedelta(seconds=299), configured=True,
                       policy=POLICY) is None
    assert next_action(pending, now=T0 + timedelta(seconds=300), configured=True,
                       policy=POLICY) == "verify_timeout"
    timed_out = after_verify_timeout(pending, T0 + timedelta(seconds=300), POLICY)
    assert timed_out.status == "failed" and "did not verify" in (timed_out.reason or "")
    assert timed_out.retry_at == T0 + timedelta(seconds=900)


def test_verified_lease_is_renewed_before_expiry_and_lapses_without_renewal() -> None:
    sub = _active(lease_s=864000)
    assert sub.status == "active" and sub.lease_expires == T0 + timedelta(days=10)
    assert is_pushing(sub, T0 + timedelta(days=9))
    assert next_action(sub, now=T0 + timedelta(days=8, hours=23), configured=True,
                       policy=POLICY) is None
    assert next_action(sub, now=T0 + timedelta(days=9), configured=True,
                       policy=POLICY) == "subscribe"
    renewing = after_request(before_request(sub, "subscribe", T0 + timedelta(days=9)),
                             "subscribe", accepted=True, reason="HTTP 202",
                             now=T0 + timedelta(days=9), policy=POLICY)
    assert renewing.status == "active"  # still pushing while the renewal is verified
    assert next_action(renewing, now=T0 + timedelta(days=10), configured=True,
                       policy=POLICY) == "verify_timeout"
    failed_renewal = after_verify_timeout(renewing, T0 + timedelta(days=9, minutes=5), POLICY)
    assert failed_renewal.status == "active"  # the old lease still runs
    assert next_action(failed_renewal, now=T0 + timedelta(days=10), configured=True,
                       policy=POLICY) == "expire"


def test_a_hub_granting_no_lease_gets_the_one_asked_for() -> None:
    sub = after_verified(_sub(requested_mode="subscribe"), "subscribe", None, T0, POLICY)
    assert sub is not None and sub.lease_s == POLICY.lease_s


def test_refusal_and_denial_fall_back_with_backoff() -> None:
    sent = before_request(_sub(), "subscribe", T0)
    refused = after_request(sent, "subscribe", accepted=False, reason="HTTP 400: no",
                            now=T0, policy=POLICY)
    assert refused.status == "failed" and "HTTP 400: no" in (refused.reason or "")
    assert next_action(refused, now=T0 + timedelta(seconds=599), configured=True,
                       policy=POLICY) is None
    assert next_action(refused, now=T0 + timedelta(seconds=600), configured=True,
                       policy=POLICY) == "subscribe"
    again = after_request(before_request(refused, "subscribe", T0), "subscribe",
                          accepted=False, reason="x", now=T0, policy=POLICY)
    assert again.retry_at == T0 + timedelta(seconds=1200)  # doubled
    denied = after_denied(_active(), "spam", T0, POLICY)
    assert denied.status == "denied" and denied.reason == "hub denied: spam"
    assert not is_pushing(denied, T0)
    assert denied.retry_at == T0 + timedelta(days=1)


def test_pushed_feeds_are_polled_at_the_long_interval_only_while_pushing() -> None:
    sub = _active(lease_s=3600)
    assert poll_interval(sub, 900, T0, POLICY) == 21600
    assert poll_interval(sub, 30000, T0, POLICY) == 30000
    assert poll_interval(sub, 900, T0 + timedelta(hours=2), POLICY) == 900  # lease over
    assert poll_interval(None, 900, T0, POLICY) == 900
    missed = after_missed(sub, 3, T0, POLICY)
    assert missed.status == "failed" and missed.missed_entries == 3
    assert poll_interval(missed, 900, T0, POLICY) == 900


def test_verification_echoes_only_what_was_asked_for() -> None:
    asked = before_request(_sub(), "subscribe", T0)
    topic = asked.topic
    assert verification_accepted(asked, mode="subscribe", topic=topic, configured=True)
    assert not verification_accepted(asked, mode="subscribe", topic=topic + "x",
                                     configured=True)
    assert not verification_accepted(asked, mode="unsubscribe", topic=topic, configured=True)
    assert not verification_accepted(asked, mode="subscribe", topic=topic, configured=False)
    assert not verification_accepted(_sub(), mode="subscribe", topic=topic, configured=True)
    assert not verification_accepted(None, mode="subscribe", topic=topic, configured=True)
    assert not verification_accepted(asked, mode="denied", topic=topic, configured=True)
    # a hub re-confirming an active subscription is agreed to
    assert verification_accepted(_active(), mode="subscribe", topic=topic, configured=True)
    leaving = before_request(_active(), "unsubscribe", T0)
    assert verification_accepted(leaving, mode="unsubscribe", topic=topic, configured=False)
    assert after_verified(leaving, "unsubscribe", None, T0, POLICY) is None


def test_removed_feeds_are_unsubscribed_or_forgotten() -> None:
    assert next_action(_active(), now=T0, configured=False, policy=POLICY) == "unsubscribe"
    assert next_action(_sub(status="failed"), now=T0, configured=False,
                       policy=POLICY) == "forget"
    leaving = before_request(_active(), "unsubscribe", T0)
    assert next_action(leaving, now=T0 + timedelta(seconds=10), configured=False,
                       policy=POLICY) is None
    assert next_action(leaving, now=T0 + timedelta(seconds=300), configured=False,
                       policy=POLICY) == "forget"
    assert next_action(_active().model_copy(update={"wanted": False}), now=T0,
                       configured=True, policy=POLICY) == "unsubscribe"


def test_rediscovery() -> None:
    found = Discovery(("https://hub.example/",), "https://x.example/feed", "feed")
    new = rediscovered(None, found, feed="f", now=T0, token="t1", secret="s1")
    assert new is not None and new.status == "discovered" and new.callback_token == "t1"
    active = _active()
    assert rediscovered(active, found, feed="f", now=T0, token="t2", secret="s2") is None
    moved = Discovery(("https://new-hub.example/",), "https://x.example/feed", "link_header")
    fresh = rediscovered(active.model_copy(update={"deliveries": 4}), moved, feed="f", now=T0,
                         token="t2", secret="s2")
    assert fresh is not None and fresh.hub == "https://new-hub.example/"
    assert fresh.status == "discovered" and fresh.secret == "s2" and fresh.deliveries == 4
    gone = rediscovered(active, None, feed="f", now=T0, token="t3", secret="s3")
    assert gone is not None and not gone.wanted
    assert rediscovered(None, None, feed="f", now=T0, token="t", secret="s") is None


def test_callback_paths_round_trip() -> None:
    path = callback_path("Al Jazeera (EN).v2", "abc_DEF-123")
    assert parse_callback_path(path + "?hub.mode=subscribe") == ("Al Jazeera (EN).v2",
                                                                 "abc_DEF-123")
    assert parse_callback_path("/websub/only-one-part") is None
    assert parse_callback_path("/other/f/t") is None
    assert parse_callback_path("/websub/f/t/extra") is None


def test_a_renewal_rotates_callback_and_secret_once_verified() -> None:
    active = _active()
    assert renewal_rotates(active, "subscribe")
    assert not renewal_rotates(_sub(), "subscribe")
    assert not renewal_rotates(active, "unsubscribe")
    renewing = before_request(active, "subscribe", T0, rotate=("new-tok", "new-sec"))
    assert renewing.callback_token == "tok" and renewing.pending_token == "new-tok"
    topic = active.topic
    assert verification_accepted(renewing, mode="subscribe", topic=topic, configured=True,
                                 pending=True)
    assert not verification_accepted(renewing, mode="unsubscribe", topic=topic,
                                     configured=True, pending=True)
    assert not verification_accepted(active, mode="subscribe", topic=topic, configured=True,
                                     pending=True)  # no renewal asked for
    renewed = after_verified(renewing, "subscribe", 600, T0, POLICY, pending=True)
    assert renewed is not None
    assert (renewed.callback_token, renewed.secret) == ("new-tok", "new-sec")
    assert renewed.pending_token is None and renewed.pending_secret is None
    reconfirmed = after_verified(renewing, "subscribe", 600, T0, POLICY)  # the old callback
    assert reconfirmed is not None and reconfirmed.callback_token == "tok"
    assert reconfirmed.pending_token == "new-tok"  # the renewal may still be verified
    refused = after_request(renewing, "subscribe", accepted=False, reason="x", now=T0,
                            policy=POLICY)
    assert refused.pending_token is None and refused.callback_token == "tok"
