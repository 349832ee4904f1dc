"""Every stage counts what it does; a worker serves its metrics over HTTP when asked."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry

from enrich.worker.loop import run_worker
from infra.embedded_stack import free_port
from ingest.common.es_client import make_es
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from ingest.feeds.feed_metrics import FeedStateCollector
from ingest.feeds.feeds_config import FeedConfig
from ingest.poll.poll_run import poll_once
from tests.support.articles import make_article
from tests.support.http_fixture_server import FixtureServer
from tests.support.kafka_tools import produce


def test_worker_serves_prometheus_metrics(settings: Settings) -> None:
    port = free_port()
    settings = settings.model_copy(update={"metrics_port": port})
    ensure_topics(settings)
    produce(settings.kafka_bootstrap, settings.articles_topic,
            [(b"bad", b"{"), *((a.id.encode(), a.to_bytes()) for a in map(make_article, range(3)))])
    assert run_worker(settings, until_idle_s=1).indexed == 3
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples = {line.split(" ")[0]: float(line.split(" ")[1])
               for line in text.splitlines() if line and not line.startswith("#")}
    assert samples["newswatch_articles_indexed_total"] >= 3
    assert samples['newswatch_dead_letters_total{kind="invalid_json"}'] >= 1
    assert samples['newswatch_offset_commits_total{outcome="ok"}'] >= 1
    # Freshness, exported by the worker: its hop, and publication -> searchable at the ack.
    assert samples['newswatch_freshness_hop_seconds_count{hop="consumed_to_indexed"}'] >= 3
    buckets = [k for k in samples if k.startswith("newswatch_freshness_end_to_end_seconds_bucket")
               and 'span="published_to_searchable"' in k]
    assert 'le="0.05"' in buckets[0] and 'le="86400.0"' in buckets[-2]  # 50 ms to a day
    assert samples['newswatch_freshness_end_to_end_seconds_count'
                   '{span="published_to_searchable"}'] >= 3
    lags = [v for k, v in samples.items() if k.startswith("newswatch_consumer_lag{")]
    assert lags and all(v == 0 for v in lags)


def test_feed_registry_metrics_come_from_the_shared_state(
    settings: Settings, fixture_server: FixtureServer
) -> None:
    fixture_server.add("/ok.xml", "<rss version='2.0'><channel><title>ok</title></channel></rss>",
                       "application/rss+xml")
    feeds = [FeedConfig(name="ok", url=fixture_server.url("/ok.xml")),  # type: ignore[arg-type]
             FeedConfig(name="gone", url=fixture_server.url("/gone.xml"))]  # type: ignore[arg-type]
    poll_once(settings, feeds)
    es = make_es(settings)
    es.indices.refresh(index=settings.feeds_index)
    registry = CollectorRegistry()
    registry.register(FeedStateCollector(es, settings.feeds_index, settings.drift_index))
    assert registry.get_sample_value("newswatch_feeds", {"status": "active"}) == 1
    assert registry.get_sample_value("newswatch_feeds", {"status": "backoff"}) == 1
    assert registry.get_sample_value("newswatch_feeds_failing", {"kind": "http_404"}) == 1
    assert registry.get_sample_value("newswatch_sites_extraction_drift") == 0
    es.close()
