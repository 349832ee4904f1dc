"""Poll runs wired from settings: the I/O edge that `newswatch poll --once` and the Prefect flow
share, so both behave the same with or without a Prefect server.

* `poll_once`: every configured (enabled) feed, now, due or not, holding no lease: the manual
  command and the demo.
* `poll_due`: what the scheduled flow runs on every tick. Only the feeds that are due, claimed
  batch by batch under leases (`ingest.feeds.feed_leases`), so any number of runners can tick at
  once and no feed is polled twice. A tick with nothing due costs a handful of Elasticsearch
  requests and starts neither the Kafka producer nor the extraction processes, so the flow can
  tick every minute whatever the feeds' intervals.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime

from elasticsearch import Elasticsearch

from ingest.common.es_client import make_es
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from ingest.extract.extraction import ExtractorPool
from ingest.extract.extraction_drift_store import DriftRecorder, DriftStore
from ingest.feeds.feed_health import HealthPolicy
from ingest.feeds.feed_leases import Claim, claim_due, register
from ingest.feeds.feed_schedule import SchedulePolicy
from ingest.feeds.feed_state import FeedStateStore
from ingest.feeds.feeds_config import FeedConfig, load_feeds
from ingest.feeds.lease_renewal import LeaseKeeper
from ingest.fetch.http_fetch import Fetcher, FetchPolicy
from ingest.fetch.robots import RobotsCache
from ingest.message.article import utcnow
from ingest.message.article_producer import ArticleProducer, make_producer
from ingest.poll.poller import Poller, PollReport, PushHook
from ingest.websub.websub_policy import WebSubPolicy
from ingest.websub.websub_poll_hook import WebSubPollHook
from ingest.websub.websub_state import SubscriptionStore

log = logging.getLogger(__name__)

# Rounds in a row in which every due feed was taken by other runners before this one gives up.
MAX_IDLE_ROUNDS = 3


def fetch_policy(settings: Settings) -> FetchPolicy:
    return FetchPolicy.from_settings(settings)


def default_runner_id() -> str:
    """Unique per process and run: a restarted runner must not think it holds old leases."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def enabled_feeds(settings: Settings) -> list[FeedConfig]:
    return [f for f in load_feeds(settings.feeds_file).feeds if f.enabled]


def prepare_ingest(settings: Settings) -> None:
    """Create topics and state indices (idempotent): run at service start and by poll runs."""
    ensure_topics(settings)
    es = make_es(settings)
    try:
        FeedStateStore.from_settings(es, settings).ensure_indices()
        DriftStore(es, settings.drift_index).ensure()
        SubscriptionStore.from_settings(es, settings).ensure_index()
    finally:
        es.close()


@contextmanager
def _poller(
    settings: Settings, es: Elasticsearch, clock: Callable[[], datetime],
    leases: LeaseKeeper | None = None,
    push: PushHook | None = None,
) -> Iterator[Poller]:
    if push is None and settings.websub_port is not None:
        push = WebSubPollHook(SubscriptionStore.from_settings(es, settings),
                              WebSubPolicy.from_settings(settings), clock)
    producer = ArticleProducer(make_producer(settings), settings.articles_topic)
    drift_store = DriftStore(es, settings.drift_index)
    drift = DriftRecorder(drift_store.load())
    try:
        with ExtractorPool(settings.extract_processes) as extractor, \
                Fetcher(fetch_policy(settings)) as fetcher:
            yield Poller(
                fetcher=fetcher,
                store=FeedStateStore.from_settings(es, settings),
                producer=producer,
                extractor=extractor,
                schedule=SchedulePolicy.from_settings(settings),
                health=HealthPolicy.from_settings(settings),
                max_entries_per_feed=settings.max_entries_per_feed,
                concurrency=settings.poll_concurrency,
                clock=clock,
                robots=RobotsCache(fetcher),
                drift=drift,
                leases=leases,
                push=push,
            )
        drift_store.save(drift, clock())
    finally:
        producer.close()


def open_poller(
    settings: Settings, es: Elasticsearch, *, clock: Callable[[], datetime] = utcnow,
) -> AbstractContextManager[Poller]:
    """A Poller wired from settings for ingesting outside a poll run: the WebSub service
    hands it the bodies hubs deliver."""
    return _poller(settings, es, clock)


def poll_once(
    settings: Settings,
    feeds: list[FeedConfig] | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> PollReport:
    """Poll every configured (enabled) feed once. Feed failures are in the report, not raised."""
    if feeds is None:
        feeds = enabled_feeds(settings)
    prepare_ingest(settings)
    es = make_es(settings)
    try:
        with _poller(settings, es, clock) as poller:
            report = poller.poll(feeds)
    finally:
        es.close()
    log.info("poll run finished", extra=report.summary())
    return report


def poll_due(
    settings: Settings,
    runner_id: str | None = None,
    *,
    feeds: list[FeedConfig] | None = None,
    batch_size: int | None = None,
    lease_s: float | None = None,
    max_feeds: int | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> PollReport:
    """Poll the configured feeds that are due, claiming them as threads free up, until none
    is left (or `max_feeds` were polled). Safe to run from several processes or hosts at once.
    `batch_size` caps the feeds leased per claim (default: what the pool asks for)."""
    runner = runner_id or default_runner_id()
    if feeds is None:
        feeds = enabled_feeds(settings)
    lease = lease_s or settings.poll_lease_s
    by_name = {f.name: f for f in feeds}
    started = time.monotonic()
    report = PollReport()
    prepare_ingest(settings)
    es = make_es(settings)
    try:
        store = FeedStateStore.from_settings(es, settings)
        register(store, feeds)
        remaining = set(by_name)  # a feed failing fast may be due again: once per run is enough
        claimed_count = 0

        def claim(wanted: int) -> list[Claim]:
            nonlocal claimed_count
            limit = min(wanted, batch_size or wanted,
                        len(remaining) if max_feeds is None else max_feeds - claimed_count)
            for _ in range(MAX_IDLE_ROUNDS):  # all taken by faster runners: look again
                if limit <= 0:
                    return []
                result = claim_due(store, sorted(remaining), runner_id=runner, now=clock(),
                                   lease_s=lease, limit=limit)
                if result.claims or not result.candidates:
                    remaining.difference_update(c.state.name for c in result.claims)
                    claimed_count += len(result.claims)
                    return result.claims
            return []

        first = claim(2 * settings.poll_concurrency)
        if first:  # the Kafka producer and the extraction processes only when there is work
            pending = [first]

            def more(wanted: int) -> list[tuple[FeedConfig, Claim]]:
                claims = pending.pop() if pending else claim(wanted)
                return [(by_name[c.state.name], c) for c in claims]

            with LeaseKeeper(store, lease_s=lease, clock=clock) as keeper, \
                    _poller(settings, es, clock, keeper) as poller:
                report = poller.poll_claiming(more)
    finally:
        es.close()
    report.seconds = time.monotonic() - started
    log.info("due poll run finished", extra={"runner": runner, **report.summary()})
    return report
