"""Lease renewal against the real embedded Elasticsearch: a feed whose poll outlasts the lease
stays this runner's, and a lease another runner took is given up, never fought over."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from ingest.common.es_client import make_es
from ingest.common.settings import Settings
from ingest.feeds.feed_leases import Claim, claim_due, register
from ingest.feeds.feed_state import FeedStateStore, StaleVersion
from ingest.feeds.feeds_config import FeedConfig
from ingest.feeds.lease_renewal import LeaseKeeper
from ingest.poll.poll_run import poll_due
from ingest.poll.poller import PollReport
from tests.support.http_fixture_server import ARTICLE_PAGE, FixtureServer, delayed

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FEED = [FeedConfig(name="slow", url="https://feeds.example/slow.xml")]  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _leased_by_a(store: FeedStateStore, clock: Clock) -> tuple[Claim, LeaseKeeper]:
    """Feed "slow" claimed by runner a at T0 for 600 s, held by a's keeper."""
    register(store, FEED)
    (claim,) = claim_due(store, ["slow"], runner_id="a", now=T0, lease_s=600, limit=1).claims
    keeper = LeaseKeeper(store, lease_s=600, clock=clock)
    keeper.hold(claim)
    return claim, keeper


def test_a_held_lease_is_renewed_after_a_third_and_the_final_write_matches_it(
    store: FeedStateStore,
) -> None:
    clock = Clock()
    claim, keeper = _leased_by_a(store, clock)

    clock.now = T0 + timedelta(seconds=150)
    assert keeper.renew_due() == 0  # a quarter gone: not yet
    clock.now = T0 + timedelta(seconds=250)
    assert keeper.renew_due() == 1
    stored = store.load(["slow"])["slow"]
    assert stored.lease_owner == "a" and stored.lease_until == T0 + timedelta(seconds=850)

    # where the first lease would have expired, nobody else may take the feed
    late = claim_due(store, ["slow"], runner_id="b", now=T0 + timedelta(seconds=700),
                     lease_s=600, limit=1)
    assert late.claims == [] and late.candidates == 0

    # the claim's own version is stale now; release hands over the renewal's
    version = keeper.release("slow", claim.version)
    assert version != claim.version
    with pytest.raises(StaleVersion):
        store.save(claim.state.without_lease(), version=claim.version)
    store.save(claim.state.without_lease(), version=version)
    assert store.load(["slow"])["slow"].lease_owner is None
    assert keeper.held() == []


def test_a_lease_taken_by_another_runner_is_reported_lost_not_overwritten(
    store: FeedStateStore,
) -> None:
    clock = Clock()
    claim, keeper = _leased_by_a(store, clock)
    # runner a stalled past its lease without renewing (a long pause); b takes the feed
    taken = claim_due(store, ["slow"], runner_id="b", now=T0 + timedelta(seconds=601),
                      lease_s=600, limit=1)
    assert len(taken.claims) == 1

    clock.now = T0 + timedelta(seconds=602)
    assert keeper.renew_due() == 0
    assert keeper.renew_due() == 0  # a lost lease is not tried again
    with pytest.raises(StaleVersion):
        keeper.release("slow", claim.version)
    assert store.load(["slow"])["slow"].lease_owner == "b"


def test_release_of_a_feed_never_held_returns_the_callers_version(
    store: FeedStateStore,
) -> None:
    register(store, FEED)
    (claim,) = claim_due(store, ["slow"], runner_id="a", now=T0, lease_s=600, limit=1).claims
    keeper = LeaseKeeper(store, lease_s=600, clock=Clock())
    assert keeper.release("slow", claim.version) == claim.version
    keeper.hold(claim)
    keeper.discard("slow")
    assert keeper.held() == [] and keeper.release("slow", claim.version) == claim.version


def test_a_poll_longer_than_its_lease_is_not_polled_again_by_a_second_runner(
    settings: Settings, fixture_server: FixtureServer
) -> None:
    """Real clocks: the feed answers after 6 s, the lease lasts 3 s. Runner b ticks at 4 s,
    when an unrenewed lease would have expired, and must find nothing due."""
    page = fixture_server.add("/p.html", ARTICLE_PAGE)
    rss = (f"<rss version='2.0'><channel><title>slow</title><item><title>Item</title>"
           f"<link>{page}</link></item></channel></rss>").encode()
    fixture_server.routes["/slow.xml"] = delayed(rss, 6.0)
    feeds = [FeedConfig(name="slow", url=fixture_server.url("/slow.xml"))]  # type: ignore[arg-type]
    light = settings.model_copy(update={"extract_processes": 1, "poll_concurrency": 2})
    reports: dict[str, PollReport] = {}

    def run_a() -> None:
        reports["a"] = poll_due(light, "runner-a", feeds=feeds, lease_s=3.0)

    first = threading.Thread(target=run_a)
    first.start()
    deadline = time.monotonic() + 30
    while fixture_server.hits("/slow.xml") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(4.0)
    assert first.is_alive()  # a is still polling: its first lease is long over
    reports["b"] = poll_due(light, "runner-b", feeds=feeds, lease_s=3.0)
    first.join()

    assert reports["b"].outcomes == []
    assert [o.result for o in reports["a"].outcomes] == ["ok"]
    assert reports["a"].produced == 1
    assert fixture_server.hits("/slow.xml") == 1
    es = make_es(settings)
    try:
        state = FeedStateStore.from_settings(es, settings).load(["slow"])["slow"]
    finally:
        es.close()
    assert state.lease_owner is None and state.status == "active"  # a's outcome was written
