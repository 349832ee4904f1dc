"""A feed's life under the scheduler, with a controllable clock, against a local site and the
real embedded Kafka + Elasticsearch: backoff, blocked, the daily probe, recovery; Retry-After,
permanent redirects, conditional GET and the adaptive interval."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler

import pytest

from ingest.common.es_client import make_es
from ingest.common.settings import Settings
from ingest.feeds.feed_health import BLOCK_AFTER, BLOCKED_PROBE_S
from ingest.feeds.feed_state import FeedState, FeedStateStore
from ingest.feeds.feeds_config import FeedConfig
from ingest.poll.poll_run import poll_due
from ingest.poll.poller import PollReport
from tests.support.http_fixture_server import FixtureServer, Route

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def rss(items: list[tuple[str, datetime]], channel_extra: str = "") -> str:
    body = "".join(
        f"<item><title>{link}</title><link>{link}</link>"
        f"<pubDate>{format_datetime(when)}</pubDate></item>"
        for link, when in items
    )
    return (f"<rss version='2.0' xmlns:sy='http://purl.org/rss/1.0/modules/syndication/'>"
            f"<channel><title>t</title>{channel_extra}{body}</channel></rss>")


@pytest.fixture
def light(settings: Settings) -> Settings:
    return settings.model_copy(update={"extract_processes": 1, "poll_concurrency": 2})


@pytest.fixture
def states(settings: Settings) -> Iterator[FeedStateStore]:
    es = make_es(settings)
    yield FeedStateStore.from_settings(es, settings)
    es.close()


def state_of(store: FeedStateStore, name: str) -> FeedState:
    found = store.get(name)
    assert found is not None
    return found


def tick(settings: Settings, feed: FeedConfig, clock: Clock) -> PollReport:
    return poll_due(settings, "runner-1", feeds=[feed], clock=clock)


def test_backoff_then_blocked_then_recovered_by_the_daily_probe(
    light: Settings, states: FeedStateStore, fixture_server: FixtureServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ingest.poll.poller")
    clock = Clock(T0)
    feed = FeedConfig(name="flaky", url=fixture_server.url("/flaky.xml"))  # type: ignore[arg-type]

    fixture_server.add("/flaky.xml", "overloaded", status=503)
    assert tick(light, feed, clock).outcomes[0].error_kind == "http_503"
    s = state_of(states, "flaky")
    assert (s.status, s.consecutive_failures) == ("backoff", 1)
    assert s.next_due is not None and s.next_due > T0

    # not due yet: the next tick neither claims nor fetches it
    clock.now = s.next_due - timedelta(seconds=1)
    assert tick(light, feed, clock).outcomes == []
    assert fixture_server.hits("/flaky.xml") == 1

    # the feed is gone now: permanent failures pile up until it is blocked
    del fixture_server.routes["/flaky.xml"]
    delays = []
    for attempt in range(BLOCK_AFTER):
        clock.now = s.next_due
        assert tick(light, feed, clock).outcomes[0].error_kind == "http_404"
        s = state_of(states, "flaky")
        delays.append((s.next_due - clock.now).total_seconds())
        assert s.status == ("blocked" if attempt == BLOCK_AFTER - 1 else "backoff")
    assert delays[:-1] == sorted(delays[:-1])  # exponential backoff while in backoff
    assert delays[-1] == BLOCKED_PROBE_S
    blocked_at = clock.now
    assert fixture_server.hits("/flaky.xml") == 1 + BLOCK_AFTER

    # a day of silence: no poll before the probe, even though the feed came back meanwhile
    fixture_server.add("/flaky.xml", rss([(fixture_server.url("/gone.html"), T0)]),
                       "application/rss+xml")
    clock.now = blocked_at + timedelta(seconds=BLOCKED_PROBE_S - 60)
    assert tick(light, feed, clock).outcomes == []
    clock.now = blocked_at + timedelta(seconds=BLOCKED_PROBE_S)
    report = tick(light, feed, clock)
    assert report.outcomes[0].result == "ok" and report.produced == 1
    s = state_of(states, "flaky")
    assert (s.status, s.consecutive_failures, s.permanent_failures) == ("active", 0, 0)
    assert s.status_since == clock.now and s.last_error_kind == "http_404"  # kept for history

    changes = [r.getMessage() for r in caplog.records
               if r.getMessage().startswith("feed state changed") and r.feed == "flaky"]
    assert changes[0].startswith("feed state changed: backing off after http_503")
    assert "blocked after 5 permanent failures in a row (http_404: HTTP 404)" in changes[-2]
    assert changes[-1] == "feed state changed: recovered: the daily probe succeeded"
    assert len(changes) == 3  # backoff -> backoff is no change; each change logged once


def test_429_waits_as_long_as_retry_after_says(
    light: Settings, states: FeedStateStore, fixture_server: FixtureServer
) -> None:
    clock = Clock(T0)
    fixture_server.add("/busy.xml", "slow down", status=429, headers={"Retry-After": "7200"})
    feed = FeedConfig(name="busy", url=fixture_server.url("/busy.xml"))  # type: ignore[arg-type]
    assert tick(light, feed, clock).outcomes[0].error_kind == "http_429"
    s = state_of(states, "busy")
    assert s.next_due == T0 + timedelta(seconds=7200)
    clock.now = T0 + timedelta(seconds=7199)
    assert tick(light, feed, clock).outcomes == []
    assert fixture_server.hits("/busy.xml") == 1


def test_a_permanent_redirect_moves_the_stored_url(
    light: Settings, states: FeedStateStore, fixture_server: FixtureServer
) -> None:
    clock = Clock(T0)
    fixture_server.add("/old.xml", "", status=301,
                       headers={"Location": fixture_server.url("/new.xml")})
    fixture_server.add("/new.xml", rss([]), "application/rss+xml")
    feed = FeedConfig(name="moved", url=fixture_server.url("/old.xml"))  # type: ignore[arg-type]
    assert tick(light, feed, clock).outcomes[0].result == "ok"
    s = state_of(states, "moved")
    assert (s.url, s.configured_url) == (fixture_server.url("/new.xml"),
                                         fixture_server.url("/old.xml"))
    clock.now = s.next_due or T0
    assert tick(light, feed, clock).outcomes[0].result in ("unchanged", "not_modified")
    assert (fixture_server.hits("/old.xml"), fixture_server.hits("/new.xml")) == (1, 2)


def _conditional(body: bytes) -> Route:
    def handler(request: BaseHTTPRequestHandler) -> None:
        if request.headers.get("If-None-Match") == '"v1"':
            request.send_response(304)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml")
        request.send_header("ETag", '"v1"')
        request.send_header("Cache-Control", "max-age=3600")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
    return Route(handler=handler)


def test_interval_adapts_to_publishing_and_respects_the_feeds_floor(
    light: Settings, states: FeedStateStore, fixture_server: FixtureServer
) -> None:
    clock = Clock(T0)
    every_10_min = [(fixture_server.url(f"/busy{i}.html"), T0 - timedelta(minutes=10 * i))
                    for i in range(10)]
    daily = [(fixture_server.url(f"/slow{i}.html"), T0 - timedelta(days=i)) for i in range(5)]
    fixture_server.add("/busy.xml", rss(every_10_min), "application/rss+xml")
    fixture_server.add("/slow.xml", rss(daily), "application/rss+xml")
    fixture_server.add("/ttl.xml", rss(every_10_min, "<ttl>120</ttl>"), "application/rss+xml")
    fixture_server.add("/sy.xml", rss(every_10_min, "<sy:updatePeriod>hourly</sy:updatePeriod>"
                                      "<sy:updateFrequency>1</sy:updateFrequency>"),
                       "application/rss+xml")
    fixture_server.routes["/cached.xml"] = _conditional(rss(every_10_min).encode())
    feeds = [FeedConfig(name=n, url=fixture_server.url(f"/{n}.xml"))  # type: ignore[arg-type]
             for n in ("busy", "slow", "ttl", "sy", "cached")]
    report = poll_due(light, "runner-1", feeds=feeds, clock=clock)
    assert {o.feed: o.result for o in report.outcomes} == {f.name: "ok" for f in feeds}
    got = {f.name: state_of(states, f.name) for f in feeds}
    assert got["busy"].interval_s == 300  # every 10 minutes -> the lower bound
    assert got["slow"].interval_s == 6 * 3600  # daily -> the upper bound
    assert (got["ttl"].interval_s, got["ttl"].floor_source) == (7200, "rss ttl")
    assert (got["sy"].interval_s, got["sy"].floor_source) == (3600, "sy:updatePeriod")
    assert (got["cached"].interval_s, got["cached"].floor_source) == (
        3600, "cache-control max-age")
    for state in got.values():
        assert state.next_due == T0 + timedelta(seconds=state.interval_s or 0)

    # the conditional GET: validators sent, 304 costs no parsing, the floor holds
    clock.now = got["cached"].next_due or T0
    again = poll_due(light, "runner-1", feeds=feeds[4:], clock=clock)
    assert [o.result for o in again.outcomes] == ["not_modified"]
    assert fixture_server.requests[-1][1].get("if-none-match") == '"v1"'
    assert state_of(states, "cached").interval_s == 3600
