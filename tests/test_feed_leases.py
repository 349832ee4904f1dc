"""Several poll runners at once, against the real embedded Elasticsearch and a local site:
every due feed is claimed by exactly one runner, and a crashed runner's lease expires."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from ingest.common.es_client import make_es
from ingest.common.settings import Settings
from ingest.feeds.feed_leases import ClaimResult, claim_due, register
from ingest.feeds.feed_state import FeedStateStore, StaleVersion
from ingest.feeds.feeds_config import FeedConfig
from ingest.poll.poll_run import poll_due
from ingest.poll.poller import PollReport
from tests.support.http_fixture_server import ARTICLE_PAGE, FixtureServer, delayed

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def configs(count: int, base: str = "https://feeds.example") -> list[FeedConfig]:
    return [FeedConfig(name=f"f{i:02}", url=f"{base}/f{i:02}.xml")  # type: ignore[arg-type]
            for i in range(count)]


def test_racing_claimants_each_get_a_disjoint_share_and_nothing_is_left(
    store: FeedStateStore,
) -> None:
    feeds = configs(20)
    assert register(store, feeds) == 20
    assert register(store, feeds) == 0  # a second runner registering the same feeds
    names = [f.name for f in feeds]
    barrier = threading.Barrier(6)
    results: dict[str, ClaimResult] = {}

    def runner(runner_id: str) -> None:
        barrier.wait()
        results[runner_id] = claim_due(store, names, runner_id=runner_id, now=T0,
                                       lease_s=600, limit=20)

    threads = [threading.Thread(target=runner, args=(f"r{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = Counter(c.state.name for r in results.values() for c in r.claims)
    assert sorted(claimed) == names
    assert set(claimed.values()) == {1}
    owners = {s.name: s.lease_owner for s in store.load(names).values()}
    for runner_id, result in results.items():
        assert all(owners[c.state.name] == runner_id for c in result.claims)


def test_a_crashed_runners_lease_expires_and_its_late_write_is_refused(
    store: FeedStateStore,
) -> None:
    feeds = configs(3)
    register(store, feeds)
    names = [f.name for f in feeds]
    crashed = claim_due(store, names, runner_id="crashed", now=T0, lease_s=600, limit=10)
    assert len(crashed.claims) == 3
    early = claim_due(store, names, runner_id="other", now=T0 + timedelta(seconds=599),
                      lease_s=600, limit=10)
    assert early.claims == [] and early.candidates == 0
    late = claim_due(store, names, runner_id="other", now=T0 + timedelta(seconds=601),
                     lease_s=600, limit=10)
    assert sorted(c.state.name for c in late.claims) == names
    # the crashed runner comes back to life: its write must not undo the new owner's lease
    zombie = crashed.claims[0]
    with pytest.raises(StaleVersion):
        store.save(zombie.state.without_lease(), version=zombie.version)
    assert store.load([zombie.state.name])[zombie.state.name].lease_owner == "other"


def test_feeds_not_yet_due_or_disabled_are_not_claimed(store: FeedStateStore) -> None:
    feeds = configs(3)
    register(store, feeds)
    states = store.load(f.name for f in feeds)
    store.save(states["f00"].model_copy(update={"next_due": T0 + timedelta(minutes=5)}))
    store.save(states["f01"].model_copy(update={"status": "disabled"}))
    store.save(states["f02"].model_copy(update={"next_due": T0 - timedelta(minutes=5)}))
    result = claim_due(store, [f.name for f in feeds], runner_id="r", now=T0, lease_s=60,
                       limit=10)
    assert [c.state.name for c in result.claims] == ["f02"]


def test_two_runners_polling_at_once_never_poll_a_feed_twice(
    settings: Settings, fixture_server: FixtureServer
) -> None:
    count = 30
    for i in range(count):
        page = fixture_server.add(f"/p{i:02}.html", ARTICLE_PAGE)
        rss = (f"<rss version='2.0'><channel><title>f{i:02}</title><item><title>Item {i}"
               f"</title><link>{page}</link></item></channel></rss>").encode()
        fixture_server.routes[f"/f{i:02}.xml"] = delayed(rss, 0.05)  # both runners busy at once
    feeds = configs(count, fixture_server.base_url)
    light = settings.model_copy(update={"extract_processes": 1, "poll_concurrency": 4})
    reports: dict[str, PollReport] = {}
    barrier = threading.Barrier(2)

    def runner(runner_id: str) -> None:
        barrier.wait()
        reports[runner_id] = poll_due(light, runner_id, feeds=feeds, batch_size=4)

    threads = [threading.Thread(target=runner, args=(r,)) for r in ("runner-a", "runner-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(reports) == {"runner-a", "runner-b"}  # both ran to the end
    assert [fixture_server.hits(f"/f{i:02}.xml") for i in range(count)] == [1] * count
    polled = Counter(o.feed for r in reports.values() for o in r.outcomes)
    assert sorted(polled) == [f.name for f in feeds] and set(polled.values()) == {1}
    assert sum(r.produced for r in reports.values()) == count
    es = make_es(settings)
    try:
        states = FeedStateStore.from_settings(es, settings).load(f.name for f in feeds)
    finally:
        es.close()
    assert all(s.lease_owner is None and s.status == "active" for s in states.values())
    # nothing is due any more: a third tick polls nothing and fetches nothing
    again = poll_due(light, "runner-c", feeds=feeds)
    assert again.outcomes == []
    assert sum(fixture_server.hits(f"/f{i:02}.xml") for i in range(count)) == count
