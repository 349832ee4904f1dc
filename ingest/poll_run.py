"""One poll run wired from settings: the I/O edge that `newswatch poll --once` and the Prefect
flow share, so both behave the same with or without a Prefect server."""

from __future__ import annotations

import logging

from ingest.article_producer import ArticleProducer, make_producer
from ingest.es_client import make_es
from ingest.extraction import ExtractorPool
from ingest.feed_state import FeedStateStore
from ingest.feeds_config import FeedConfig, load_feeds
from ingest.http_fetch import Fetcher, FetchPolicy
from ingest.kafka_topics import ensure_topics
from ingest.poller import Poller, PollReport
from ingest.settings import Settings

log = logging.getLogger(__name__)


def fetch_policy(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        user_agent=f"{settings.user_agent} contact: {settings.contact_url}",
        allow_private_networks=settings.allow_private_networks,
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        total_timeout_s=settings.total_timeout_s,
        max_redirects=settings.max_redirects,
        max_body_bytes=settings.max_body_bytes,
    )


def prepare_ingest(settings: Settings) -> None:
    """Create topics and state indices (idempotent): run at service start and by poll runs."""
    ensure_topics(settings)
    es = make_es(settings)
    try:
        FeedStateStore.from_settings(es, settings).ensure_indices()
    finally:
        es.close()


def poll_once(settings: Settings, feeds: list[FeedConfig] | None = None) -> PollReport:
    """Poll every configured (enabled) feed once. Feed failures are in the report, not raised."""
    if feeds is None:
        feeds = [f for f in load_feeds(settings.feeds_file).feeds if f.enabled]
    prepare_ingest(settings)
    es = make_es(settings)
    producer = ArticleProducer(make_producer(settings), settings.articles_topic)
    try:
        with ExtractorPool(settings.extract_processes) as extractor, \
                Fetcher(fetch_policy(settings)) as fetcher:
            poller = Poller(
                fetcher=fetcher,
                store=FeedStateStore.from_settings(es, settings),
                producer=producer,
                extractor=extractor,
                interval_s=settings.poll_interval_s,
                max_entries_per_feed=settings.max_entries_per_feed,
                concurrency=settings.poll_concurrency,
            )
            report = poller.poll(feeds)
    finally:
        producer.close()
        es.close()
    log.info("poll run finished", extra=report.summary())
    return report
